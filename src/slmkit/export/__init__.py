"""Deployment targets for a stored model: ``export.sagemaker`` builds a SageMaker
``model.tar.gz`` with an entry point that runs slmkit's own server, a Dockerfile for the
serving image and a boto3 deploy script."""
