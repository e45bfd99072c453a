"""Electronic signatures: password re-entry plus the meaning of the signature (批准, 审核, …).

Used by the quality policy approval now and by SOP approval later. A signature records who signed
what (object type, id and the SHA-256 of the signed content), when, from where, and what it means.
"""
