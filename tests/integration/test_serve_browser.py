"""`triage serve` in a real browser: Debian's headless Chromium, driven by selenium with the keyboard.

Starts `triage serve` in a subprocess on a free loopback port, names the reviewer, checks that a
title holding an <img onerror> shows as text, screens 20 records with the keyboard, and checks
the 20 labels in the project. Skips when chromium or chromedriver is not installed (`.ci/run`
installs them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _serve_helpers import make_project
from triage.store.project import Project

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HOSTILE = "<img src=x onerror=alert(1)>"
REPO = Path(__file__).resolve().parents[2]


def _browser(tmp_path: Path):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1200,900"):
        options.add_argument(arg)
    # the driver's path is given: Selenium Manager never looks for (or downloads) one
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture
def server(tmp_path):
    """`triage serve` on a free loopback port: (url with the token, project dir, process)."""
    proj = make_project(tmp_path, n=40, hostile=HOSTILE, question="zebrafish hypoxia")
    with Project.open(proj) as p:
        from triage.team import add_reasons

        add_reasons(p, ["wrong population", "wrong design"])
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "HF_HUB_OFFLINE": "1", "TRIAGE_BACKGROUND_EMBEDDING": "0"}
    log = tmp_path / "serve.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "triage", "serve", str(proj), "--port", "0", "--no-browser",
                                 "--preset", "tfidf_svm"], stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
        assert m, f"no address printed: {line!r} {log.read_text()}"
        yield m.group(1), proj, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_keyboard_screening_of_20_records_in_headless_chromium(server, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, proj, _ = server
    driver = _browser(tmp_path)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(url)
        wait.until(lambda d: d.current_url.endswith("/name"))
        assert "token" not in driver.current_url
        box = driver.find_element(By.NAME, "reviewer")
        box.send_keys("selenium reviewer\n")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#record[data-record-id]"))

        # the hostile title (ranked first: it matches the question) shows as text, never as markup
        title = driver.find_element(By.ID, "title")
        assert HOSTILE in title.text
        assert driver.find_elements(By.CSS_SELECTOR, "#record img") == []
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (the onerror handler never ran)
        driver.save_screenshot(str(tmp_path / "screen.png"))

        body = driver.find_element(By.TAG_NAME, "body")
        shown = []
        # 20 decisions: i include, m maybe, e then 1 (reason 1) or 0 (no reason), n note then a label
        steps = (["i", "e0", "e1", "m", "e0"] * 3 + ["n", "i", "e0", "e1", "m"])[:20]

        def shown_id(d):  # read in one step: the panel is replaced after each key
            return d.execute_script("const r = document.getElementById('record'); return r && r.dataset.recordId")

        for step in steps:
            rid = shown_id(driver)
            shown.append(int(rid))
            if step == "n":  # the note box opens; Enter keeps the note for the next label
                body.send_keys("n")
                driver.find_element(By.ID, "note").send_keys("checked in the browser\n")
                step = "m"
            for key in step:
                body.send_keys(key)
            wait.until(lambda d: shown_id(d) not in (None, rid))
        progress = driver.find_element(By.CSS_SELECTOR, ".progress").text
        found = sum(1 for s in steps if s in ("i", "m", "n"))
        assert progress.startswith(f"Screened 20 of 40 | found {found}"), progress
        driver.save_screenshot(str(tmp_path / "after-20.png"))
    finally:
        driver.quit()
    assert (tmp_path / "screen.png").stat().st_size > 0
    with Project.open(proj, readonly=True) as p:
        events = p.label_events()
    label = {"i": "include", "e": "exclude", "m": "maybe", "n": "maybe"}
    assert [(e.record_id, e.label) for e in events] == [(r, label[s[0]]) for r, s in zip(shown, steps)]
    assert [e.reason for e in events] == ["wrong population" if s == "e1" else "" for s in steps]
    assert [e.note for e in events] == ["checked in the browser" if s == "n" else "" for s in steps]
    assert {e.reviewer for e in events} == {"selenium reviewer"} and len(set(shown)) == 20
