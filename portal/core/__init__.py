"""Building blocks shared by every domain: types, errors, job queue, time helpers."""
