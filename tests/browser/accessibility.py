"""axe-core (pinned, vendored: README-axe.md) run inside a page, and the checks axe cannot make."""
from __future__ import annotations

from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_SOURCE = (Path(__file__).parent / "axe.min.js").read_text(encoding="utf-8")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"


def axe_violations(page) -> list[str]:
    """The WCAG A/AA violations axe finds on the page as it is, one line each."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE + "\n;undefined")  # through the DevTools protocol: the page's CSP does not apply
    assert page.evaluate("() => axe.version") == AXE_VERSION
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
    return [
        f"{violation['id']}: {violation['help']} at {[node['target'] for node in violation['nodes']]}"
        for violation in result["violations"]
    ]


def clipped_focus_rings(page) -> list[str]:
    """Tab through the page; name each focused element whose focus ring (outline and offset) a container hides."""
    return page.evaluate("""() => {
      const clipped = [];
      const focusable = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')]
        .filter(el => el.offsetParent !== null && !el.disabled);
      for (const el of focusable) {
        el.focus({focusVisible: true});
        const style = getComputedStyle(el);
        const ring = parseFloat(style.outlineWidth) + Math.max(0, parseFloat(style.outlineOffset));
        const box = el.getBoundingClientRect();
        for (let parent = el.parentElement; parent; parent = parent.parentElement) {
          const overflow = getComputedStyle(parent);
          if ([overflow.overflowX, overflow.overflowY].every(value => value === 'visible')) continue;
          const edge = parent.getBoundingClientRect();
          if (box.left - ring < edge.left - 0.5 || box.right + ring > edge.right + 0.5 ||
              box.top - ring < edge.top - 0.5 || box.bottom + ring > edge.bottom + 0.5) {
            clipped.push(`${el.outerHTML.slice(0, 80)} inside ${parent.tagName}.${parent.className}`);
          }
        }
      }
      return clipped;
    }""")


def check_page(page, name: str) -> None:
    """No axe violation, no clipped focus ring; a screenshot in instance/screenshots/<name>.png to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert axe_violations(page) == [], name
    assert clipped_focus_rings(page) == [], name
