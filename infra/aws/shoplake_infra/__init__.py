"""shoplake on AWS as CDK stacks: network, lakehouse, stores, stream processor, API, monitoring.

Each module owns one part of the deployment; :func:`shoplake_infra.app.build_app` wires them.
"""
