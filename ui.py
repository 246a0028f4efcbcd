"""The chat UI, in a checkout: ``python ui.py`` (or ``gradio ui.py``, reloading on edits) is the same
as ``assistant ui``. The app itself is ``assistant/webui.py``, so an installed wheel has it too."""

from __future__ import annotations

import sys

from assistant.webui import *  # noqa: F403  (the app's names, for ``import ui`` and ``gradio ui.py``)
from assistant.webui import main

if __name__ == "__main__":
    sys.exit(main())
