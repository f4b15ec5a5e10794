"""The case page's "Case bundle (PDF)" link: there for whoever sees the case, and it downloads
the bundle with the signed-in session alone; another trust's advisor gets 404."""

import io

import pypdf

from tests.support.stack import ApiStack
from tests.web.test_web_security import Browser, open_case


async def test_the_case_page_links_the_bundle_and_it_downloads(api_stack: ApiStack) -> None:
    case_id = await open_case(api_stack, "alice")
    alice = Browser(api_stack.http)
    await alice.sign_in("alice")
    page = await alice.request("GET", f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    assert f'href="/cases/{case_id}/bundle"' in page.text
    assert "Case bundle (PDF)" in page.text
    bundle = await alice.request("GET", f"/cases/{case_id}/bundle")
    assert bundle.status_code == 200, bundle.text
    assert bundle.headers["content-type"] == "application/pdf"
    assert bundle.headers["content-disposition"].startswith("attachment;")
    first = pypdf.PdfReader(io.BytesIO(bundle.content)).pages[0].extract_text()
    assert case_id in first and "Priya Patel" in first
    oscar = Browser(api_stack.http)
    await oscar.sign_in("oscar")
    assert (await oscar.request("GET", f"/cases/{case_id}/bundle")).status_code == 404
