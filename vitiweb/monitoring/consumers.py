"""The websocket that follows one container's log: `pods/log?follow=true` streamed to the page.

`/ws/logs/?cluster=<pk>&namespace=&pod=&container=&tail=` (Operator role or
above, checked before accepting). A thread reads the cluster's stream and the
consumer sends the lines as JSON batches (`{"lines": [{"text", "level"}]}`),
at most every `BATCH` seconds; the page escapes them (textContent). When the
page closes, the socket's disconnect shuts the cluster's stream and the
thread ends; when the cluster ends the stream, the page is told (`{"end": ...}`).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from vitiweb.kube import logs as kube_logs
from vitiweb.kube.errors import KubeError
from vitiweb.models import Cluster
from vitiweb.monitoring import gauges
from vitiweb.sync.clusters import api_client_for

BATCH = 0.1
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class LogConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        query = {k: v[0] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        self.target = await self._target(user, query)
        if isinstance(self.target, int):
            await self.close(code=self.target)
            return
        self.loop = asyncio.get_running_loop()
        self.lines: asyncio.Queue = asyncio.Queue()
        self.response = None
        self.closed = threading.Event()
        await self.accept()
        await database_sync_to_async(gauges.adjust)("websockets_logs", 1)
        self.counted = True
        self.reader = threading.Thread(target=self._read, name="log-follow", daemon=True)
        self.reader.start()
        self.sender = asyncio.ensure_future(self._send_batches())

    @database_sync_to_async
    def _target(self, user, query):
        if not (user.has_perm("vitiweb.view_cluster") and user.has_perm("monitoring.view_controller_logs")):
            return 4403
        try:
            cluster = Cluster.objects.get(pk=int(query.get("cluster", "")))
        except (ValueError, Cluster.DoesNotExist):
            return 4404
        names = [query.get(key, "") for key in ("namespace", "pod", "container")]
        if cluster.read_only or not all(_NAME.match(name) for name in names):
            return 4404
        try:
            tail = max(0, min(int(query.get("tail") or 200), kube_logs.MAX_TAIL))
        except ValueError:
            tail = 200
        return (cluster, *names, tail)

    def _read(self) -> None:
        cluster, namespace, pod, container, tail = self.target
        api_client = api_client_for(cluster)
        end = "the log stream ended"
        try:
            self.response = kube_logs.follow_log(api_client, namespace, pod, container, tail)
            if self.closed.is_set():
                kube_logs.stop(self.response)
            for line in kube_logs.iter_lines(api_client, self.response):
                if self.closed.is_set():
                    break
                self.loop.call_soon_threadsafe(self.lines.put_nowait, line)
        except KubeError as exc:
            end = str(exc)
        finally:
            if self.response is not None:
                kube_logs.stop(self.response)
            api_client.close()
            if not self.closed.is_set():
                self.loop.call_soon_threadsafe(self.lines.put_nowait, None)
        self._end = end

    async def _send_batches(self) -> None:
        while True:
            first = await self.lines.get()
            batch = [first]
            await asyncio.sleep(BATCH)
            while not self.lines.empty():
                batch.append(self.lines.get_nowait())
            ended = None in batch
            lines = [{"text": line, "level": kube_logs.level_of(line)} for line in batch if line is not None]
            message = {"lines": lines}
            if ended:
                message["end"] = getattr(self, "_end", "the log stream ended")
            await self.send(text_data=json.dumps(message))
            if ended:
                return

    async def disconnect(self, code):
        closed = getattr(self, "closed", None)
        if closed is not None:
            closed.set()
            if self.response is not None:
                kube_logs.stop(self.response)
            self.sender.cancel()
        if getattr(self, "counted", False):
            await database_sync_to_async(gauges.adjust)("websockets_logs", -1)

    async def receive(self, text_data=None, bytes_data=None):
        """The page only listens."""
