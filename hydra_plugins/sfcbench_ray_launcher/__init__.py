"""Hydra launcher ``hydra/launcher=ray``: each job of a sweep is a Ray task on a Ray cluster.

sfcbench ships its own launcher instead of ``hydra-ray-launcher``: that
package needs ``ray[default]``, boto3 and an older cloudpickle (46 packages)
for a local launcher of a few dozen lines, while this one needs ``ray``
alone.  Do not install both: they register the same ``hydra/launcher=ray``.
"""
