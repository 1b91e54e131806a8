"""One probe module per kind of endpoint; each probe answers the doctor's layers in order."""
