"""Browser refresh: pages reload (or swap their CSS) when their dev server changes.

Django has ``reloadd.client.django.BrowserReloadMiddleware``. See ``docs/browser.md``.
"""
