"""The topology explorer: graphs over the reference table, layered layouts, Plotly figures."""
