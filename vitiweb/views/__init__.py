"""Fleet-wide pages: the overview, search, clusters, and the assets the pages load."""
