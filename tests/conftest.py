"""Suite-wide settings.

Commands started by the tests run in the local sandbox unless a test asks for Docker with
``--sandbox docker`` (those tests carry the ``docker`` marker): the rest of the suite then
needs no engine and stays fast.
"""

import os

os.environ.setdefault("PERFSMITH_SANDBOX", "local")
