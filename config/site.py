"""The site's name and address as every page and e-mail states them: from settings
(SITE_NAME, SITE_URL), never from the Host header of whichever request sent a mail."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


@dataclass(frozen=True)
class Site:
    """Shaped like django.contrib.sites' Site (name, domain), which allauth's mails expect."""

    name: str
    domain: str
    url: str


def site_current() -> Site:
    url = settings.SITE_URL
    return Site(name=settings.SITE_NAME, domain=urlsplit(url).netloc or url, url=url)


def site_context(request=None) -> dict:
    """For templates (also a context processor): site_name, site_domain, site_url, current_site."""
    site = site_current()
    return {"site_name": site.name, "site_domain": site.domain, "site_url": site.url, "current_site": site}
