"""The app's tracking plan: every UI element and page route that may be stored. Edit it with the app.

``element`` and ``page`` of an interaction are identifiers the app chooses, not free text, so they are
never scrubbed; instead they are closed vocabularies. An event may name any element of the right shape
and any path, but what is stored is the element if it is listed here, the route below that the path
is an instance of, or ``other`` (README "Use from the web app"). A name, an e-mail address or a phone
number that an app writes into either field therefore never reaches a table, a training set or
Dagster's run storage, whatever its spelling. The residual-PII gate refuses any other value.

Routes are path templates: a segment written ``:name``, ``{name}`` or ``[name]`` stands for any one
segment (``/u/:handle/profile`` matches ``/u/anyone/profile``); other segments are literal (compared
in lower case). Where several routes match, the one with literal segments earliest wins
(``/resume/new`` over ``/resume/:resume_id``). Add a route or element here before the app ships it;
until then its events are counted as ``other``.
"""

# The resume workspace's controls (the synthetic sample, sample_data.py, clicks these).
WORKSPACE_ELEMENTS = (
    "upload-button",
    "tailor-button",
    "refine-button",
    "copy-button",
    "download-button",
    "ats-score-badge",
    "jd-score-badge",
    "mode-selector",
    "version-tab",
    "help-tooltip",
)
ELEMENTS = (*WORKSPACE_ELEMENTS, "nav.settings", "nav.history", "nav.dashboard")

ROUTES = (
    "/",
    "/editor",
    "/tailor",
    "/dashboard",
    "/history",
    "/settings",
    "/job-search",
    "/job-search/results",
    "/resume/new",
    "/resume/:resume_id",
    "/resume/:resume_id/edit",
    "/u/:handle/profile",
)
