"""The dashboard: server-rendered pages (Jinja2 + htmx, charts as Vega-Lite rendered to SVG on
the server), in Bahasa Indonesia first, under /web on the service (issue 16).

    install      install_web(app, settings): routes, static files, the web state on the app
    session      the session cookie and CSRF tokens
    viewer       who is looking (the principal, the policy's answers, the audit of the page)
    pages        templates, the page response with its content security policy, error pages
    messages     the message catalogue (Bahasa Indonesia, English)
    charts       Vega-Lite specs rendered to SVG pictures
    state        the releases the pages read, cached per release
    views/       view models: region overview and its figures, family page, explanation, audit search
    routes/      the pages: login, region overview, families, audit, cases, approval, citizens (/web/warga)
"""

from dtsen.web.install import install_web

__all__ = ["install_web"]
