"""The WSGI entry point: ``gunicorn wsgi:app``. The only module that builds an app at import."""
from portal import create_app

app = create_app()

# The app's objects live as long as the process: move them out of the garbage collector's sight so that
# full collections (tens of ms with ~100k objects) do not land on requests.
import gc  # noqa: E402

gc.collect()
gc.freeze()
