"""What the template's tests share, in plain modules (test modules never import each other):
rendering and the combinations (rendering.py), the validators of rendered projects
(static_checks.py, cloud_checks.py, both run by checks.py), the helpers of the deep tiers
(deep.py), Terraform's HCL as data (hcl.py), GitLab CI YAML (gitlab_yaml.py) and the cloud
CLI stand-in the cloud training test puts on PATH (cloud_cli_stand_in.py)."""
