"""A local stand-in for a Rasa server's `POST /model/parse`, answering in Rasa's format.

It classifies by a fixed text -> intent table (unknown texts: Rasa's `nlu_fallback`, with
the real guess second in the ranking), and records the requests it got.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeRasa:
    answers: dict[str, str]
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    broken: bool = False

    def answer(self, text: str) -> dict[str, Any]:
        if text in self.answers:
            intent = {"name": self.answers[text], "confidence": 0.93}
            ranking = [intent, {"name": "out_of_scope", "confidence": 0.04}]
        else:
            intent = {"name": "nlu_fallback", "confidence": 0.5}
            ranking = [intent, {"name": "greet", "confidence": 0.31}]
        return {
            "text": text,
            "intent": intent,
            "entities": [
                {
                    "entity": "city",
                    "start": text.index("北京"),
                    "end": text.index("北京") + 2,
                    "value": "北京",
                    "extractor": "RegexEntityExtractor",
                }
            ]
            if "北京" in text
            else [],
            "intent_ranking": ranking,
            "text_tokens": [],
        }


@contextmanager
def fake_rasa_server(answers: dict[str, str]) -> Iterator[FakeRasa]:
    fake = FakeRasa(answers)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append({"path": self.path, "body": body})
            if fake.broken or self.path != "/model/parse":
                self.send_response(500 if fake.broken else 404)
                self.end_headers()
                return
            payload = json.dumps(fake.answer(body["text"])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
