"""`triage serve`: screening in the browser, on the reviewer's own machine.

A Flask app (served by waitress) over the same service functions as `triage screen`:
  screening.py  the server's screening state: the current round, each reviewer's queue, who is
                looking at which record (single mode), the background retrain thread
  app.py        the app: access token, session cookie, CSRF, security headers
  routes.py     the pages (screen, project, team) and the decision endpoint
  templates/, static/  Jinja templates (autoescaped) and hand-written CSS/JS (no CDN, no build)
"""
