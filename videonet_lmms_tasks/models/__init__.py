"""lmms-eval models shipped with the VideoNet suite, registered through the ``lmms_eval.models``
entry-point group (see ``setup.cfg``).

lmms-eval 0.7.3 loads every entry point of that group when ``lmms_eval.models`` is imported
and *calls* the loaded object, expecting ``ModelManifest`` objects back (a class would be
instantiated with no arguments).  So the entry points name the two functions below, which
return manifests pointing at the model classes by dotted path: nothing heavy (torch,
transformers) is imported until lmms-eval actually builds the model.

* ``videonet_scripted`` - :class:`videonet_lmms_tasks.models.scripted.ScriptedChat`, a chat
  model that answers from a JSON map (question_id -> reply) and records what it was shown;
  it drives every task end to end in the tests.
* ``videonet_molmo2`` - :class:`videonet_lmms_tasks.models.molmo2.Molmo2`, transformers'
  native ``Molmo2ForConditionalGeneration`` with the paper's frame sampling.

Loading these entry points is also how the task suite gets on lmms-eval's task path, so that
``lmms-eval --tasks videonet_mc`` works after ``pip install`` (:mod:`videonet_lmms_tasks.plugin`).
"""

from __future__ import annotations

SCRIPTED_MODEL_ID = "videonet_scripted"
MOLMO2_MODEL_ID = "videonet_molmo2"


def _manifest(model_id: str, class_path: str):
    from lmms_eval.models.registry_v2 import ModelManifest

    from videonet_lmms_tasks.plugin import register_tasks

    register_tasks()  # lmms-eval loads model entry points before it indexes tasks
    return ModelManifest(model_id=model_id, chat_class_path=class_path)


def scripted_manifest():
    """Entry point ``videonet_scripted``."""
    return _manifest(SCRIPTED_MODEL_ID, "videonet_lmms_tasks.models.scripted.ScriptedChat")


def molmo2_manifest():
    """Entry point ``videonet_molmo2``."""
    return _manifest(MOLMO2_MODEL_ID, "videonet_lmms_tasks.models.molmo2.Molmo2")
