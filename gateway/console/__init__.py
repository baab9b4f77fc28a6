"""The admin console under /console: server-rendered pages (Jinja2) on the same service
functions as the admin API, for named accounts with sessions."""
