"""An S3-compatible server for the tests: moto's, on 127.0.0.1 and a free port, with one bucket.

With `--auth`, requests signed with an unknown key or a wrong secret are refused. (moto then
also refuses a listing whose prefix holds a `/`, signed right or not, so only the tests of
refused credentials use it.)

Prints one JSON line (endpoint, access key, secret, bucket), then serves until its stdin closes,
which happens when the test that started it ends, however it ends.
"""

import json
import logging
import os
import sys

AUTH = "--auth" in sys.argv[1:]
if AUTH:
    # The first requests (the user, its policy, its key) are made before any key exists.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"

try:
    import boto3
    from moto.server import ThreadedMotoServer
except ImportError as e:
    sys.exit(f"moto's S3 server is missing ({e}): pip install 'moto[server]'")

BUCKET = "lobbylog"
# One line per request would bury the test's own output.
logging.getLogger("werkzeug").setLevel(logging.ERROR)

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
endpoint = f"http://{host}:{port}"
anonymous = {"region_name": "us-east-1", "aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
if AUTH:
    iam = boto3.client("iam", endpoint_url=endpoint, **anonymous)
    iam.create_user(UserName="lobbylog")
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="lobbylog", PolicyName="all", PolicyDocument=json.dumps(allow_all))
    key = iam.create_access_key(UserName="lobbylog")["AccessKey"]
else:
    key = {"AccessKeyId": "AKIALOBBYLOGTEST", "SecretAccessKey": "lobbylog-test-secret-key"}
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key["AccessKeyId"],
    aws_secret_access_key=key["SecretAccessKey"],
)
s3.create_bucket(Bucket=BUCKET)
print(
    json.dumps(
        {
            "endpoint": endpoint,
            "key_id": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
            "bucket": BUCKET,
        }
    ),
    flush=True,
)
sys.stdin.read()
server.stop()
