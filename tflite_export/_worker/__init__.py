"""TensorFlow child processes: one typed job, one runner, one entry point.

Conversion and TFMOT need Keras' TensorFlow backend (TFMOT also tf-keras),
and a user on JAX or PyTorch cannot switch backends inside a running
process. The user's process describes the work as a `Job` (`_job.py`),
`run_job` (`_runner.py`) starts `python -m tflite_export._worker JOB` with
`KERAS_BACKEND=tensorflow`, and the child (`__main__.py`) runs the job's
task. Every failure reaches the user as `tflite_export.ExportError`.
"""
