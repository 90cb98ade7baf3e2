"""The caseworkers' web app: server-rendered pages (Jinja2) on the same use cases as the API, every view
audited with the channel `web`. Works without JavaScript; `static/app.js` only improves (checking the case
number as one types, turning pages by keyboard). Everything it loads comes from the service itself.

- `texts`: every word the pages show, in one catalogue (German);
- `pages`: the routes;
- `templates/`, `static/`: the HTML and what it loads.
"""
