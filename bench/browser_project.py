"""The Django project a browser-refresh contender serves, and the three edits timed on it.

Each contender gets its own ``django-admin startproject`` project (made by
``tests/django_project.py``, app ``pages``), with one HTML page at ``/browser/``: a
template text, a text the view passes in, and a stylesheet served by ``staticfiles``
that colours the template text. :class:`BrowserProject` writes the three files each
edit changes, always to a new value:

* ``pages/templates/pages/browser.html``: ``<p id="template-text">template N</p>``;
* ``pages/browser_views.py``: ``MESSAGE = "view N"`` (the server restarts);
* ``pages/static/pages/bench.css``: ``#template-text { color: rgb(N, 0, 0) }``.

Set-ups, as each tool's documentation asks:

* **django-browser-reload**: ``"django_browser_reload"`` in ``INSTALLED_APPS``, its
  ``BrowserReloadMiddleware`` in ``MIDDLEWARE``, ``path("__reload__/",
  include("django_browser_reload.urls"))`` in the URLconf; Django's own reloader.
* **reloadd**: ``"reloadd.client.django"`` in ``INSTALLED_APPS`` and
  ``"reloadd.client.django.BrowserReloadMiddleware"`` first in ``MIDDLEWARE`` (as
  reloadd's own browser tests have it); nothing else.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TEMPLATE = """\
{{% load static %}}<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>reloadd bench</title>
<link rel="stylesheet" href="{{% static 'pages/bench.css' %}}">
</head>
<body>
<p id="template-text" data-bench="template">{text}</p>
<p id="view-text" data-bench="view">{{{{ message }}}}</p>
</body>
</html>
"""

VIEWS = """\
from django.shortcuts import render

MESSAGE = "{message}"


def page(request):
    return render(request, "pages/browser.html", {{"message": MESSAGE}})
"""

CSS = "#template-text {{ color: rgb({red}, 0, 0); }}\n"

URLS = """\
from django.urls import include, path

from pages import browser_views

urlpatterns = [
    path("browser/", browser_views.page),{extra}
]
"""

DBR_URL = '\n    path("__reload__/", include("django_browser_reload.urls")),'

DBR_SETTINGS = """
INSTALLED_APPS += ["django_browser_reload"]
MIDDLEWARE += ["django_browser_reload.middleware.BrowserReloadMiddleware"]
"""

RELOADD_SETTINGS = """
MIDDLEWARE.insert(0, "reloadd.client.django.BrowserReloadMiddleware")
"""

RELOADD_MIDDLEWARE = "reloadd.client.django.BrowserReloadMiddleware"

PAGE = "/browser/"


def css_color(red: int) -> str:
    """The computed ``color`` the stylesheet of :meth:`BrowserProject.edit_css` gives."""
    return f"rgb({red}, 0, 0)"


class BrowserProject:
    """One contender's project; ``tool`` is ``"reloadd"`` or ``"django-browser-reload"``."""

    def __init__(self, root: Path, tool: str) -> None:
        from tests.django_project import make_project

        self.root = make_project(root, reloadd=tool == "reloadd")
        self.tool = tool
        app = self.root / "pages"
        self.template = app / "templates" / "pages" / "browser.html"
        self.views = app / "browser_views.py"
        self.css = app / "static" / "pages" / "bench.css"
        self.css.parent.mkdir(parents=True, exist_ok=True)
        # The project root for reloadd's daemon (and Watchman) is this folder.
        (self.root / ".watchmanconfig").write_text("{}\n")
        self.edit_template("template 0")
        self.edit_view("view 0")
        self.edit_css(1)
        extra = DBR_URL if tool == "django-browser-reload" else ""
        (self.root / "mysite" / "urls.py").write_text(URLS.format(extra=extra))
        with open(self.root / "mysite" / "settings.py", "a") as settings:
            settings.write(RELOADD_SETTINGS if tool == "reloadd" else DBR_SETTINGS)

    def edit_template(self, text: str) -> None:
        """Rewrite the template so that its text reads ``text``."""
        self.template.write_text(TEMPLATE.format(text=text))

    def edit_view(self, message: str) -> None:
        """Rewrite the view module so that the page's view text reads ``message``."""
        self.views.write_text(VIEWS.format(message=message))

    def edit_css(self, red: int) -> None:
        """Rewrite the stylesheet: the template text becomes ``rgb(red, 0, 0)``."""
        self.css.write_text(CSS.format(red=red))


def reloadd_middleware_missing(env: dict[str, str], project: Path) -> str | None:
    """Why reloadd's ``BrowserReloadMiddleware`` cannot be imported (None when it can)."""
    check = (
        "import django; django.setup(); "
        "from django.utils.module_loading import import_string; "
        f"import_string({RELOADD_MIDDLEWARE!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        cwd=project,
        env=dict(env, DJANGO_SETTINGS_MODULE="mysite.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"
