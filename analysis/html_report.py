"""html_report.py — what plot.py and sweep_plot.py share: saving a figure,
and a self-contained report.html (its style, the plots embedded as base64
PNGs beside links to their files).

Uses the standard library and matplotlib (Agg backend) only.
"""

import base64
import html
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 100

STYLE = """body { font-family: sans-serif; max-width: 1200px; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; }
td { text-align: right; } th { text-align: left; background: #f4f4f4; }
figure { margin: 1em 0; } img { max-width: 100%; }
.warn { color: #b00; font-weight: bold; }"""


def save_figure(fig, out, name):
    """Writes fig to OUT/name as a PNG, closes it; returns the path."""
    path = os.path.join(out, name)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def write_report(out, title, body, pngs):
    """Writes OUT/report.html: the title, body (HTML), then every PNG of
    pngs embedded with a link to its file. Returns the path."""
    figs = []
    for p in pngs:
        name = html.escape(os.path.basename(p))
        with open(p, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        figs.append(f'<figure><img src="data:image/png;base64,{data}" alt="{name}" data-file="{name}">'
                    f'<figcaption><a href="{name}">{name}</a></figcaption></figure>')
    doc = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
           f"<style>\n{STYLE}\n</style></head><body>\n<h1>{html.escape(title)}</h1>\n{body}\n"
           f"<h2>Plots</h2>\n{''.join(figs)}\n</body></html>\n")
    path = os.path.join(out, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)
    return path
