"""The AWS deployment (infra/aws): one real synthesis per module, then the templates' security
properties asserted resource by resource and IAM statement by statement.

The app is synthesized by the entry point ``make synth`` runs (``python infra/aws/app.py``)
into a temporary ``CDK_OUTDIR``; every test reads the templates it wrote.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Node first: importing aws_cdk starts its Node.js runtime.
if shutil.which("node") is None:
    pytest.skip("node is not on PATH: the AWS CDK needs Node.js >= 18", allow_module_level=True)
if importlib.util.find_spec("aws_cdk") is None:
    pytest.skip("aws-cdk-lib is not installed (pip install -e '.[infra]')", allow_module_level=True)

from aws_cdk.assertions import Match, Template

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "infra" / "aws" / "app.py"
STACKS = ("Network", "Lakehouse", "Stores", "Processor", "Api", "Monitoring")
NAMESPACES = ("bronze", "silver", "gold", "audit")
#: Services whose resources hold data: no wildcard action may touch them.
DATA_SERVICES = ("s3", "glue", "kinesis", "kms", "dynamodb", "rds", "secretsmanager")
PARTITION_REGION_ACCOUNT = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
#: The only AWS managed policies any role may carry (AWS-maintained, no data actions).
ALLOWED_MANAGED_POLICIES = {
    "service-role/AWSLambdaVPCAccessExecutionRole",  # the processor's ENIs in the VPC
    "service-role/AWSLambdaBasicExecutionRole",  # CDK's custom-resource provider (logs only)
}
SILENCE_NODE = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


# Synthesis ----------------------------------------------------------------------------------


class Synth:
    """The synthesized templates, with CloudFormation values rendered as readable strings."""

    def __init__(self, outdir: Path, stdout: str) -> None:
        self.outdir = outdir
        self.stdout = stdout
        self.json = {s: json.loads((outdir / f"{s}.template.json").read_text()) for s in STACKS}
        self.exports: dict[str, tuple[str, Any]] = {}
        for stack, template in self.json.items():
            for output in template.get("Outputs", {}).values():
                if "Export" in output:
                    self.exports[output["Export"]["Name"]] = (stack, output["Value"])

    def template(self, stack: str) -> Template:
        return Template.from_json(self.json[stack])

    def resources(self, stack: str, kind: str) -> dict[str, dict[str, Any]]:
        items = self.json[stack]["Resources"].items()
        return {lid: r for lid, r in items if r["Type"] == kind}

    def only(self, stack: str, kind: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(stack, kind)
        assert len(found) == 1, f"{stack}: expected one {kind}, found {sorted(found)}"
        return next(iter(found.items()))

    def resource(self, rendered: str) -> dict[str, Any]:
        """The resource a rendered reference names: ``Stack:LogicalId[.Attribute]``."""
        stack, _, rest = rendered.partition(":")
        return dict(self.json[stack]["Resources"][rest.split(".", 1)[0]])

    def everywhere(self, kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for stack in STACKS:
            for lid, resource in self.resources(stack, kind).items():
                yield stack, lid, resource

    def render(self, value: Any, stack: str) -> str:
        """``{"Fn::GetAtt": ["Key", "Arn"]}`` in stack S → ``S:Key.Arn``; imports resolved to
        the exporting stack's value; pseudo parameters as ``${AWS::Region}``."""
        if isinstance(value, str):
            return value
        if isinstance(value, int):
            return str(value)
        (function, argument), *rest = value.items()
        assert not rest, value
        if function == "Ref":
            return f"${{{argument}}}" if argument.startswith("AWS::") else f"{stack}:{argument}"
        if function == "Fn::GetAtt":
            return f"{stack}:{argument[0]}.{argument[1]}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(self.render(part, stack) for part in parts)
        if function == "Fn::ImportValue":
            owner, exported = self.exports[argument]
            return self.render(exported, owner)
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument
        raise AssertionError(f"cannot render {value}")


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Run ``make synth``'s entry point once, env-agnostic, into a temporary directory."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env |= SILENCE_NODE | {"CDK_OUTDIR": str(outdir)}
    result = subprocess.run(
        [sys.executable, str(APP)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"synth failed:\n{result.stderr[-4000:]}"
    return Synth(outdir, result.stdout)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(synth: Synth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every IAM policy document: AWS::IAM::Policy, managed policies, inline role policies."""
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for stack, lid, resource in synth.everywhere(kind):
            yield stack, lid, resource["Properties"]["PolicyDocument"]
    for stack, lid, resource in synth.everywhere("AWS::IAM::Role"):
        for inline in resource["Properties"].get("Policies", []):
            yield stack, f"{lid}/{inline['PolicyName']}", inline["PolicyDocument"]


def _role_statements(synth: Synth, stack: str, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to one role, plus its inline policies."""
    statements = []
    for policy in synth.resources(stack, "AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_id} in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    role = synth.json[stack]["Resources"][role_id]
    for inline in role["Properties"].get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    return statements


def _by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s.get("Sid", "(no sid): " + ",".join(_list(s["Action"]))): s for s in statements}


def _role_of_function(synth: Synth, stack: str) -> str:
    _, function = synth.only(stack, "AWS::Lambda::Function")
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


# The entry point ----------------------------------------------------------------------------


def test_synth_entry_point_writes_a_template_per_stack(synth: Synth) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    stacks = {
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert stacks == set(STACKS)
    for stack in STACKS:
        template = json.loads((synth.outdir / f"{stack}.template.json").read_text())
        assert template["Resources"], stack
        assert f"shoplake-dev-{stack.lower()}:" in synth.stdout


# Buckets ------------------------------------------------------------------------------------


def test_every_bucket_is_kms_encrypted_private_versioned_and_tls_only(synth: Synth) -> None:
    buckets = list(synth.everywhere("AWS::S3::Bucket"))
    assert buckets, "no bucket synthesized"
    for stack, lid, bucket in buckets:
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms", lid
        key = synth.render(default["KMSMasterKeyID"], stack)
        key_resource = synth.resource(key)
        assert key_resource["Type"] == "AWS::KMS::Key"
        assert key_resource["Properties"]["EnableKeyRotation"] is True
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, lid
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, lid
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any("NoncurrentVersionExpiration" in r for r in rules), lid
        assert bucket["DeletionPolicy"] == "Retain", lid

        policies = [
            p
            for _, _, p in synth.everywhere("AWS::S3::BucketPolicy")
            if p["Properties"]["Bucket"] == {"Ref": lid}
        ]
        assert len(policies) == 1, f"{lid}: expected one bucket policy"
        statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [
                {"Fn::GetAtt": [lid, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [lid, "Arn"]}, "/*"]]},
            ],
        } in statements, f"{lid}: no deny of non-TLS requests"


def test_bucket_policies_grant_a_star_principal_nothing_but_the_tls_deny(synth: Synth) -> None:
    offenders = []
    for stack, lid, policy in synth.everywhere("AWS::S3::BucketPolicy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            principal = statement.get("Principal")
            star = principal == "*" or (
                isinstance(principal, dict) and "*" in _list(principal.get("AWS", []))
            )
            tls_deny = statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }
            if star and not tls_deny:
                offenders.append(f"{stack}/{lid}: {statement}")
    assert not offenders, "public bucket grants:\n" + "\n".join(offenders)


# IAM everywhere -----------------------------------------------------------------------------


def test_no_iam_statement_has_a_wildcard_action_on_data_services(synth: Synth) -> None:
    offenders = []
    documents = list(_policy_documents(synth))
    assert len(documents) >= 4
    for stack, where, document in documents:
        for statement in document["Statement"]:
            actions = _list(statement.get("Action", []))
            for action in actions:
                service = action.split(":")[0]
                if action == "*" or (service in DATA_SERVICES and "*" in action):
                    offenders.append(f"{stack}/{where}: {action} on {statement.get('Resource')}")
            data_actions = [a for a in actions if a.split(":")[0] in DATA_SERVICES]
            if (
                statement["Effect"] == "Allow"
                and data_actions
                and "*" in _list(statement.get("Resource", []))
            ):
                offenders.append(f"{stack}/{where}: {data_actions} on every resource")
    assert not offenders, "wildcards on data services:\n" + "\n".join(offenders)


def test_roles_carry_only_known_aws_managed_policies(synth: Synth) -> None:
    for stack, lid, role in synth.everywhere("AWS::IAM::Role"):
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            name = synth.render(arn, stack).split(":policy/")[1]
            assert name in ALLOWED_MANAGED_POLICIES, f"{stack}/{lid}: {name}"


def test_kms_keys_rotate_and_delegate_only_to_the_account(synth: Synth) -> None:
    keys = list(synth.everywhere("AWS::KMS::Key"))
    assert len(keys) == 5  # bucket, stream, database, cache, alarm topic
    for stack, lid, key in keys:
        props = key["Properties"]
        assert props["EnableKeyRotation"] is True, lid
        assert key["DeletionPolicy"] == "Retain", lid
        for statement in props["KeyPolicy"]["Statement"]:
            if "kms:*" in _list(statement["Action"]):
                # The default key policy: the account root, so IAM policies decide who uses it.
                root = synth.render(statement["Principal"]["AWS"], stack)
                assert root == "arn:${AWS::Partition}:iam::${AWS::AccountId}:root", lid
            else:
                assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}, lid
                assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
                assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


# The lakehouse ------------------------------------------------------------------------------


def test_a_glue_database_per_namespace_located_in_the_warehouse(synth: Synth) -> None:
    databases = {
        db["Properties"]["DatabaseInput"]["Name"]: db["Properties"]["DatabaseInput"]
        for _, _, db in synth.everywhere("AWS::Glue::Database")
    }
    assert set(databases) == set(NAMESPACES)
    bucket_id, _ = synth.only("Lakehouse", "AWS::S3::Bucket")
    for namespace, database in databases.items():
        location = synth.render(database["LocationUri"], "Lakehouse")
        assert location == f"s3://Lakehouse:{bucket_id}/warehouse/{namespace}"


def test_kinesis_stream_is_named_sharded_and_kms_encrypted(synth: Synth) -> None:
    stream_id, _ = synth.only("Lakehouse", "AWS::Kinesis::Stream")
    synth.template("Lakehouse").has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "Name": "shoplake-events",
            "ShardCount": 4,
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": Match.any_value()},
        },
    )
    stream = synth.json["Lakehouse"]["Resources"][stream_id]["Properties"]
    key = synth.render(stream["StreamEncryption"]["KeyId"], "Lakehouse")
    assert synth.resource(key)["Type"] == "AWS::KMS::Key"


# The stream processor -----------------------------------------------------------------------


def _lakehouse_refs(synth: Synth) -> dict[str, str]:
    """Rendered ARNs of the lakehouse resources the processor's policy must name."""
    stream_id, stream = synth.only("Lakehouse", "AWS::Kinesis::Stream")
    bucket_id, bucket = synth.only("Lakehouse", "AWS::S3::Bucket")
    encryption = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    bucket_key = encryption[0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    return {
        "stream": f"Lakehouse:{stream_id}.Arn",
        "stream_key": synth.render(stream["Properties"]["StreamEncryption"]["KeyId"], "Lakehouse"),
        "bucket": f"Lakehouse:{bucket_id}.Arn",
        "bucket_key": synth.render(bucket_key, "Lakehouse"),
    }


def _glue(kind: str, name: str = "") -> str:
    return f"{PARTITION_REGION_ACCOUNT}:{kind}{'/' + name if name else ''}"


def test_processor_role_is_least_privilege_statement_by_statement(synth: Synth) -> None:
    refs = _lakehouse_refs(synth)
    role_id = _role_of_function(synth, "Processor")
    statements = _by_sid(_role_statements(synth, "Processor", role_id))

    def resources(sid: str) -> set[str]:
        return {synth.render(r, "Processor") for r in _list(statements[sid]["Resource"])}

    def actions(sid: str) -> set[str]:
        return set(_list(statements[sid]["Action"]))

    assert all(s["Effect"] == "Allow" for s in statements.values())
    # Reads its own stream: exactly these actions, exactly that stream's ARN.
    assert actions("ReadOwnStream") == {
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        "kinesis:SubscribeToShard",
    }
    assert resources("ReadOwnStream") == {refs["stream"]}
    # Decrypts with the stream's key only.
    assert actions("DecryptOwnStream") == {"kms:Decrypt"}
    assert resources("DecryptOwnStream") == {refs["stream_key"]}
    # Writes only under its own prefixes.
    assert actions("WriteOwnTables") == {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
    assert resources("WriteOwnTables") == {
        f"{refs['bucket']}/warehouse/bronze/events/*",
        f"{refs['bucket']}/warehouse/bronze/dead_letters/*",
    }
    # Reads (only reads) the product tables events are validated against.
    assert actions("ReadProductTables") == {"s3:GetObject"}
    assert resources("ReadProductTables") == {
        f"{refs['bucket']}/warehouse/silver/products/*",
        f"{refs['bucket']}/warehouse/bronze/products/*",
    }
    # Key names of the one bucket (HeadBucket, 404s), no object access through it.
    assert actions("ListLakehouseBucket") == {"s3:ListBucket"}
    assert resources("ListLakehouseBucket") == {refs["bucket"]}
    # The bucket key, only through S3.
    assert actions("UseBucketKeyThroughS3") == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert resources("UseBucketKeyThroughS3") == {refs["bucket_key"]}
    via = statements["UseBucketKeyThroughS3"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert synth.render(via, "Processor") == "s3.${AWS::Region}.amazonaws.com"
    # Glue: read/create/update only bronze and its two tables.
    assert actions("GlueOwnTables") == {
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:CreateTable",
        "glue:UpdateTable",
    }
    assert resources("GlueOwnTables") == {
        _glue("catalog"),
        _glue("database", "bronze"),
        _glue("table", "bronze/events"),
        _glue("table", "bronze/dead_letters"),
    }
    assert actions("GlueReadProductTables") == {"glue:GetTable"}
    assert resources("GlueReadProductTables") == {
        _glue("catalog"),
        _glue("database", "silver"),
        _glue("database", "bronze"),
        _glue("table", "silver/products"),
        _glue("table", "bronze/products"),
    }
    assert actions("GlueListNamespaces") == {"glue:GetDatabases"}
    assert resources("GlueListNamespaces") == {_glue("catalog")} | {
        _glue("database", ns) for ns in NAMESPACES
    }
    # Its log group, and the failed-batch queue.
    assert actions("WriteOwnLogs") == {"logs:CreateLogStream", "logs:PutLogEvents"}
    # Publishes the freshness metric, in shoplake's namespace only (the action has no ARN).
    assert actions("PutFreshnessMetric") == {"cloudwatch:PutMetricData"}
    assert statements["PutFreshnessMetric"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "shoplake"}
    }
    (queue_id, _) = synth.only("Processor", "AWS::SQS::Queue")
    (sqs_sid,) = [sid for sid in statements if "sqs:SendMessage" in actions(sid)]
    assert all(a.startswith("sqs:") and "*" not in a for a in actions(sqs_sid))
    assert resources(sqs_sid) == {f"Processor:{queue_id}.Arn"}
    # Nothing else.
    assert set(statements) == {
        "ReadOwnStream",
        "DecryptOwnStream",
        "WriteOwnTables",
        "ReadProductTables",
        "ListLakehouseBucket",
        "UseBucketKeyThroughS3",
        "GlueOwnTables",
        "GlueReadProductTables",
        "GlueListNamespaces",
        "WriteOwnLogs",
        "PutFreshnessMetric",
        sqs_sid,
    }
    # Glue writes touch only bronze.events and bronze.dead_letters (and their parents).
    glue_writes = {
        resource
        for sid, s in statements.items()
        if any(a in {"glue:CreateTable", "glue:UpdateTable"} for a in _list(s["Action"]))
        for resource in resources(sid)
    }
    assert glue_writes <= {
        _glue("catalog"),
        _glue("database", "bronze"),
        _glue("table", "bronze/events"),
        _glue("table", "bronze/dead_letters"),
    }


def test_processor_function_and_its_event_source_mapping(synth: Synth) -> None:
    refs = _lakehouse_refs(synth)
    _, function = synth.only("Processor", "AWS::Lambda::Function")
    props = function["Properties"]
    assert props["PackageType"] == "Image"  # shoplake + dependencies exceed a zip's 250 MB
    assert props["ImageConfig"]["Command"] == ["shoplake.ingest.stream_lambda.handler"]
    env = {k: synth.render(v, "Processor") for k, v in props["Environment"]["Variables"].items()}
    redis_id, _ = synth.only("Stores", "AWS::ElastiCache::ReplicationGroup")
    bucket_id, _ = synth.only("Lakehouse", "AWS::S3::Bucket")
    stream_id, _ = synth.only("Lakehouse", "AWS::Kinesis::Stream")
    assert env["SHOPLAKE_PROFILE"] == "aws"
    assert env["SHOPLAKE_AWS__BUCKET"] == f"Lakehouse:{bucket_id}"
    assert env["SHOPLAKE_AWS__REGION"] == "${AWS::Region}"
    assert env["SHOPLAKE_STREAM__BACKEND"] == "kinesis"
    assert env["SHOPLAKE_STREAM__KINESIS_STREAM"] == f"Lakehouse:{stream_id}"
    assert env["SHOPLAKE_STREAM__SHARDS"] == "4"
    assert env["SHOPLAKE_STREAM__URL"] == (
        f"rediss://Stores:{redis_id}.PrimaryEndPoint.Address:"
        f"Stores:{redis_id}.PrimaryEndPoint.Port/0"
    )
    # In the VPC's private (egress) subnets.
    for subnet in props["VpcConfig"]["SubnetIds"]:
        assert _subnet_type(synth, synth.render(subnet, "Processor")) == "Private"

    (_, mapping) = synth.only("Processor", "AWS::Lambda::EventSourceMapping")
    mapping_props = mapping["Properties"]
    assert synth.render(mapping_props["EventSourceArn"], "Processor") == refs["stream"]
    assert mapping_props["BatchSize"] == 500
    assert mapping_props["BisectBatchOnFunctionError"] is True
    assert mapping_props["MaximumRetryAttempts"] == 3
    assert mapping_props["ParallelizationFactor"] == 1  # one batch per shard: positions contiguous
    queue_id, queue = synth.only("Processor", "AWS::SQS::Queue")
    destination = mapping_props["DestinationConfig"]["OnFailure"]["Destination"]
    assert synth.render(destination, "Processor") == f"Processor:{queue_id}.Arn"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_lambda_image_context_is_the_shoplake_package_without_caches(synth: Synth) -> None:
    images = json.loads((synth.outdir / "Processor.assets.json").read_text())["dockerImages"]
    (image,) = images.values()
    assert image["source"]["dockerFile"] == "infra/aws/processor/Dockerfile"
    context = synth.outdir / image["source"]["directory"]
    assert sorted(p.name for p in context.iterdir()) == [
        "README.md",
        "infra",
        "pyproject.toml",
        "src",
    ]
    assert (context / "src" / "shoplake" / "ingest" / "stream_lambda.py").is_file()
    assert (context / "infra" / "aws" / "processor" / "Dockerfile").is_file()
    assert not (context / "infra" / "aws" / "api").exists()
    assert not list(context.rglob("__pycache__"))


# The API ------------------------------------------------------------------------------------


def test_api_task_role_reads_gold_only(synth: Synth) -> None:
    refs = _lakehouse_refs(synth)
    (_, task) = synth.only("Api", "AWS::ECS::TaskDefinition")
    role_id = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = _by_sid(_role_statements(synth, "Api", role_id))
    rendered = {
        sid: {synth.render(r, "Api") for r in _list(s["Resource"])} for sid, s in statements.items()
    }
    object_statements = {
        sid: s for sid, s in statements.items() if any("Object" in a for a in _list(s["Action"]))
    }
    assert set(object_statements) == {"ReadGoldObjects"}
    assert _list(statements["ReadGoldObjects"]["Action"]) == ["s3:GetObject"]
    assert rendered["ReadGoldObjects"] == {f"{refs['bucket']}/warehouse/gold/*"}
    assert rendered["ListLakehouseBucket"] == {refs["bucket"]}
    assert rendered["DecryptThroughS3"] == {refs["bucket_key"]}
    assert _list(statements["DecryptThroughS3"]["Action"]) == ["kms:Decrypt"]
    assert rendered["GlueReadGold"] == {
        _glue("catalog"),
        _glue("database", "gold"),
        _glue("table", "gold/*"),
    }
    assert set(_list(statements["GlueReadGold"]["Action"])) == {
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
    }
    assert set(_list(statements["GlueListNamespaces"]["Action"])) == {"glue:GetDatabases"}
    # POST /events produces to the stream: put only, that stream and its key.
    assert set(_list(statements["ProduceEvents"]["Action"])) == {
        "kinesis:DescribeStreamSummary",
        "kinesis:ListShards",
        "kinesis:PutRecord",
        "kinesis:PutRecords",
    }
    assert rendered["ProduceEvents"] == {refs["stream"]}
    assert rendered["EncryptEvents"] == {refs["stream_key"]}
    assert set(statements) == {
        "ReadGoldObjects",
        "ListLakehouseBucket",
        "DecryptThroughS3",
        "GlueReadGold",
        "GlueListNamespaces",
        "ProduceEvents",
        "EncryptEvents",
    }


def test_api_service_is_private_behind_a_load_balancer_with_secrets(synth: Synth) -> None:
    api = synth.template("Api")
    api.resource_count_is("AWS::ECS::Service", 1)
    api.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internet-facing"}
    )
    api.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "NetworkConfiguration": {
                "AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})
            },
        },
    )
    api.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup", {"HealthCheckPath": "/health"}
    )
    (_, task) = synth.only("Api", "AWS::ECS::TaskDefinition")
    (container,) = task["Properties"]["ContainerDefinitions"]
    secrets = {s["Name"]: synth.render(s["ValueFrom"], "Api") for s in container["Secrets"]}
    (keys_secret, _) = synth.only("Api", "AWS::SecretsManager::Secret")
    assert secrets["SHOPLAKE_API_KEYS_JSON"] == f"Api:{keys_secret}"
    assert secrets["DB_PASSWORD"].endswith(":password::")
    assert not any("PASSWORD" in e["Name"] for e in container.get("Environment", []))


# Stores -------------------------------------------------------------------------------------


def _subnet_type(synth: Synth, rendered_subnet: str) -> str:
    """``Network:VpcdataSubnet1…`` → the subnet's ``aws-cdk:subnet-type`` tag."""
    tags = synth.resource(rendered_subnet)["Properties"]["Tags"]
    return str(next(t["Value"] for t in tags if t["Key"] == "aws-cdk:subnet-type"))


def _ingress_sources(synth: Synth, group: str) -> set[str]:
    """Rendered source security groups of every ingress rule into ``group``, wherever the
    rule is declared (standalone rules and inline rules of the group itself)."""
    sources = set()
    for stack, _, rule in synth.everywhere("AWS::EC2::SecurityGroupIngress"):
        if synth.render(rule["Properties"]["GroupId"], stack) == group:
            sources.add(synth.render(rule["Properties"]["SourceSecurityGroupId"], stack))
    inline = synth.resource(group)["Properties"].get("SecurityGroupIngress")
    assert not inline, f"{group}: inline ingress {inline}"
    return sources


def test_rds_is_encrypted_private_protected_and_secret_managed(synth: Synth) -> None:
    stores = synth.template("Stores")
    stores.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "StorageEncrypted": True,
            "KmsKeyId": Match.any_value(),
            "PubliclyAccessible": False,
            "DeletionProtection": True,
        },
    )
    (_, db) = synth.only("Stores", "AWS::RDS::DBInstance")
    props = db["Properties"]
    assert props["BackupRetentionPeriod"] >= 7
    assert synth.resource(synth.render(props["KmsKeyId"], "Stores"))["Type"] == "AWS::KMS::Key"
    # Credentials: dynamic references into the generated secret, never literal text.
    (secret_id, secret) = synth.only("Stores", "AWS::SecretsManager::Secret")
    assert "GenerateSecretString" in secret["Properties"]
    password = synth.render(props["MasterUserPassword"], "Stores")
    assert password.startswith(f"{{{{resolve:secretsmanager:Stores:{secret_id}"), password
    assert password.endswith(":SecretString:password::}}")
    # Private (isolated) subnets only.
    (_, subnets) = synth.only("Stores", "AWS::RDS::DBSubnetGroup")
    for subnet in subnets["Properties"]["SubnetIds"]:
        assert _subnet_type(synth, synth.render(subnet, "Stores")) == "Isolated"
    # Reachable only from the API tasks.
    (group,) = props["VPCSecurityGroups"]
    api_group = _api_security_group(synth)
    assert _ingress_sources(synth, synth.render(group, "Stores")) == {api_group}


def _api_security_group(synth: Synth) -> str:
    (_, service) = synth.only("Api", "AWS::ECS::Service")
    config = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    (group,) = config["SecurityGroups"]
    return synth.render(group, "Api")


def test_redis_encrypts_in_transit_and_at_rest_and_admits_only_the_apps(synth: Synth) -> None:
    synth.template("Stores").has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "TransitEncryptionEnabled": True,
            "TransitEncryptionMode": "required",
            "AtRestEncryptionEnabled": True,
            "KmsKeyId": Match.any_value(),
        },
    )
    (_, redis) = synth.only("Stores", "AWS::ElastiCache::ReplicationGroup")
    (_, subnets) = synth.only("Stores", "AWS::ElastiCache::SubnetGroup")
    for subnet in subnets["Properties"]["SubnetIds"]:
        assert _subnet_type(synth, synth.render(subnet, "Stores")) == "Isolated"
    (group,) = redis["Properties"]["SecurityGroupIds"]
    (_, function) = synth.only("Processor", "AWS::Lambda::Function")
    (processor_group,) = function["Properties"]["VpcConfig"]["SecurityGroupIds"]
    assert _ingress_sources(synth, synth.render(group, "Stores")) == {
        synth.render(processor_group, "Processor"),
        _api_security_group(synth),
    }


# Alarms -------------------------------------------------------------------------------------


def test_alarms_watch_lag_errors_throttles_freshness_and_api_5xx(synth: Synth) -> None:
    alarms = [a["Properties"] for _, _, a in synth.everywhere("AWS::CloudWatch::Alarm")]
    by_metric = {(a["Namespace"], a["MetricName"]): a for a in alarms}
    stream_id, _ = synth.only("Lakehouse", "AWS::Kinesis::Stream")
    function_id, _ = synth.only("Processor", "AWS::Lambda::Function")

    def dimensions(alarm: dict[str, Any]) -> dict[str, str]:
        return {d["Name"]: synth.render(d["Value"], "Monitoring") for d in alarm["Dimensions"]}

    lag = by_metric[("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds")]
    assert dimensions(lag) == {"StreamName": f"Lakehouse:{stream_id}"}
    assert lag["Statistic"] == "Maximum"
    for metric in ("Errors", "Throttles"):
        alarm = by_metric[("AWS/Lambda", metric)]
        assert dimensions(alarm) == {"FunctionName": f"Processor:{function_id}"}
        assert alarm["Threshold"] == 0
    freshness = by_metric[("shoplake", "FreshnessMinutes")]
    assert freshness["Threshold"] == 90
    assert freshness["TreatMissingData"] == "breaching"
    api = by_metric[("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count")]
    assert set(dimensions(api)) == {"LoadBalancer"}
    for alarm in alarms:
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"], alarm["MetricName"]


# Parameters ---------------------------------------------------------------------------------


def test_context_parameters_reach_the_templates(tmp_path: Path) -> None:
    """``-c`` values (as ``make synth CONTEXT=…`` passes them) set names, shards and sizing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env |= SILENCE_NODE | {"CDK_OUTDIR": str(tmp_path)}
    context = {
        "environment": "prod",
        "bucket_prefix": "acme",
        "stream_name": "acme-clicks",
        "shard_count": "8",
    }
    arguments = [arg for key, value in context.items() for arg in ("-c", f"{key}={value}")]
    result = subprocess.run(
        [sys.executable, str(APP), *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    prod = Synth(tmp_path, result.stdout)
    assert all(f"acme-prod-{stack.lower()}:" in result.stdout for stack in STACKS)
    prod.template("Lakehouse").has_resource_properties(
        "AWS::Kinesis::Stream", {"Name": "acme-clicks", "ShardCount": 8}
    )
    (_, bucket) = prod.only("Lakehouse", "AWS::S3::Bucket")
    name = prod.render(bucket["Properties"]["BucketName"], "Lakehouse")
    assert name == "acme-prod-lakehouse-${AWS::AccountId}-${AWS::Region}"
    (_, function) = prod.only("Processor", "AWS::Lambda::Function")
    assert function["Properties"]["Environment"]["Variables"]["SHOPLAKE_STREAM__SHARDS"] == "8"
    prod.template("Stores").has_resource_properties("AWS::RDS::DBInstance", {"MultiAZ": True})
    prod.template("Stores").has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {"NumCacheClusters": 2, "AutomaticFailoverEnabled": True},
    )


def test_invalid_context_is_refused_with_the_key_to_fix(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env |= SILENCE_NODE | {"CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(APP), "-c", "shard_count=0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "context shard_count=0: must be 1..500" in result.stderr
    assert not list(tmp_path.glob("*.template.json"))
