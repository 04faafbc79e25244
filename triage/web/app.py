"""The Flask app of `triage serve`: access token, session cookie, CSRF and security headers.

Access (as Jupyter does it): the URL printed at start carries a random token; the first request
with it gets an HttpOnly, SameSite=Strict session cookie and is redirected to the same address
without the token. Every other request needs that cookie (else 403). Every POST needs the
session's CSRF token (header X-CSRF-Token or form field `csrf`), else 403. Every response forbids
inline scripts, plugins and framing (Content-Security-Policy) and MIME sniffing, and sends no
Referer (the token never leaks to a link target).
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, g, redirect, request

from triage.web.screening import Screening

COOKIE = "triage_session"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: Endpoints a session may use before its reviewer has a name.
_BEFORE_NAME = {"web.name", "static"}


def create_app(directory: str | Path, token: str, preset: str | None = None, retrain_every: int | None = None,
               worker: bool = True, retrain_process: bool = True) -> Flask:
    """The app serving the project in `directory`; `token` is the access token of the printed URL.

    Ranks first if a round is due (raises TriageError when the project cannot be screened), then
    starts the retrain thread (unless `worker` is False), which retrains in a helper process (or, with
    `retrain_process` False, itself). Stop them with `app.extensions["triage"].close()`."""
    if not token:
        raise ValueError("an access token is required")
    screening = Screening(directory, preset, retrain_every, on_wait=lambda msg: print(msg, flush=True),
                          retrain_process=retrain_process)
    screening.start(worker=worker)
    app = Flask(__name__)
    app.extensions["triage"] = screening
    app.config["TRIAGE_TOKEN"] = token
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20  # a note or a name, never a file
    app.jinja_env.autoescape = True  # every template, whatever its extension

    from triage.web.routes import bp

    app.register_blueprint(bp)
    app.before_request(_authorise)
    app.after_request(_secure)
    return app


def screening() -> Screening:
    from flask import current_app

    return current_app.extensions["triage"]


def _forbidden(text: str) -> Response:
    return Response(text + "\n", status=403, mimetype="text/plain")


def _authorise():
    """Token -> session cookie; cookie -> g.session; POST -> CSRF check; no name -> the name page."""
    state = screening()
    session = state.session(request.cookies.get(COOKIE))
    token = request.args.get("token")
    if token is not None:
        if not hmac.compare_digest(token.encode(), state_token().encode()):
            return _forbidden("Wrong access token: open the address `triage serve` printed.")
        if session is None:
            session = state.new_session()
        rest = {k: v for k, v in request.args.items(multi=False) if k != "token"}
        resp = redirect(request.path + ("?" + urlencode(rest) if rest else ""))
        resp.set_cookie(COOKIE, session.id, httponly=True, samesite="Strict", path="/")
        return resp
    if session is None:
        return _forbidden("Access needs the token: open the address `triage serve` printed (it ends in ?token=...).")
    g.session = session
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            return _forbidden("Refused: the request lacks this session's CSRF token (reload the page).")
    if not session.reviewer and request.endpoint not in _BEFORE_NAME:
        if request.method == "GET":
            return redirect("/name")
        return Response("Name yourself first (reload the page).\n", status=409, mimetype="text/plain")
    return None


def state_token() -> str:
    from flask import current_app

    return current_app.config["TRIAGE_TOKEN"]


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _secure(resp: Response) -> Response:
    csp = CSP
    if getattr(g, "report_page", False):
        # The stopping report (the same HTML file `triage report --format html` writes) carries its
        # own <style> block and an embedded PNG: allow exactly that style (by hash), nothing else,
        # and let this app's own Project page frame it.
        import base64
        import hashlib

        body = resp.get_data(as_text=True)
        hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
                          for m in _STYLE.findall(body))
        csp = (f"default-src 'none'; style-src {hashes or chr(39) + 'none' + chr(39)}; img-src data:; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
    resp.headers["Content-Security-Policy"] = csp
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "SAMEORIGIN" if getattr(g, "report_page", False) else "DENY"
    resp.headers["Cache-Control"] = "no-store"
    return resp
