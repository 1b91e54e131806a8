"""The recommender: features, interactions, models, evaluation, the model registry and training.

Read it in pipeline order: :mod:`.snapshots` pins the lakehouse state a run reads,
:mod:`.features` and :mod:`.interactions` turn it into arrays, :mod:`.dataset` indexes them,
the models (:mod:`.popularity`, :mod:`.content`, :mod:`.als`, :mod:`.oracle`) share the
:class:`~.base.Recommender` interface, :mod:`.evaluate` splits by time and measures them,
:mod:`.registry` keeps trained versions, :mod:`.serving` loads one for recommendations,
:mod:`.outputs` writes the gold tables and :mod:`.train` runs the whole thing.

Heavy libraries (implicit, scikit-learn, scipy) are imported inside functions.
"""
