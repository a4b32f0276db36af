"""Reject bad answers before Cookiecutter writes anything.

Generated from options.yml by scripts/sync_options.py: do not edit by hand. Cookiecutter
renders this file with Jinja before running it, so each message below is produced by the
very validator text Copier runs, and both engines say the same thing.
"""

import sys

{%- set project_name = cookiecutter.project_name %}
{%- set project_slug = cookiecutter.project_slug %}
{%- set description = cookiecutter.description %}
{%- set author_name = cookiecutter.author_name %}
{%- set author_email = cookiecutter.author_email %}
{%- set python_version = cookiecutter.python_version %}
{%- set license = cookiecutter.license %}
{%- set tracker = cookiecutter.tracker %}
{%- set orchestrator = cookiecutter.orchestrator %}
{%- set compute = cookiecutter.compute %}
{%- set cloud = cookiecutter.cloud %}
{%- set ci = cookiecutter.ci %}
MESSAGES = {
    "project_name": {% filter tojson %}{%- if not project_name.strip() -%} project_name must not be empty. {%- elif '"' in project_name or '\\' in project_name -%} project_name must not contain double quotes or backslashes. {%- elif project_name | length > 60 -%} project_name is too long ({{ project_name | length }} characters): use at most 60. {%- endif -%}{% endfilter %},
    "project_slug": {% filter tojson %}{%- set reserved = ( 'False None True and as assert async await break case class continue def del elif else except finally for from global if import in is lambda match nonlocal not or pass raise return try type while with yield abc argparse array ast asyncio base64 bisect builtins bz2 calendar cmath cmd code codecs collections colorsys concurrent configparser contextlib copy copyreg csv ctypes curses dataclasses datetime dbm decimal difflib dis doctest email encodings enum errno faulthandler fcntl filecmp fileinput fnmatch fractions ftplib functools gc getopt getpass gettext glob graphlib grp gzip hashlib heapq hmac html http imaplib importlib inspect io ipaddress itertools json keyword linecache locale logging lzma mailbox marshal math mimetypes mmap modulefinder multiprocessing netrc numbers operator optparse os pathlib pdb pickle pickletools pkgutil platform plistlib poplib posix pprint profile pstats pty pwd py_compile pyclbr pydoc queue quopri random re readline reprlib resource rlcompleter runpy sched secrets select selectors shelve shlex shutil signal site smtplib socket socketserver sqlite3 ssl stat statistics string stringprep struct subprocess symtable sys sysconfig syslog tabnanny tarfile tempfile termios textwrap this threading time timeit tkinter token tokenize tomllib trace traceback tracemalloc tty turtle types typing unicodedata unittest urllib uuid venv warnings wave weakref webbrowser wsgiref xml xmlrpc zipapp zipfile zipimport zlib zoneinfo airflow alembic azure boto3 botocore catboost dagster dvc evidently fairlearn fastapi flytekit google httpx joblib kfp lightgbm matplotlib metaflow mlflow numpy optuna pandas pandera prefect prometheus_client pydantic pydantic_settings pytest requests scipy seaborn setuptools shap sklearn sqlalchemy starlette tensorflow torch typer uvicorn wandb xgboost yaml app conftest docs main src test tests').split() -%} {%- if not project_slug -%} project_slug must not be empty. {%- elif not (project_slug.isascii() and project_slug.isidentifier() and project_slug[0].isalpha() and project_slug == project_slug.lower()) -%} project_slug "{{ project_slug }}" is not a valid package name: use lowercase ASCII letters, digits and underscores, starting with a letter (for example "credit_risk"). {%- elif project_slug | length > 32 -%} project_slug "{{ project_slug }}" is too long ({{ project_slug | length }} characters): use at most 32. {%- elif project_slug in reserved -%} project_slug "{{ project_slug }}" would shadow the Python keyword or module of that name: choose a more specific name (for example "{{ project_slug }}_model"). {%- endif -%}{% endfilter %},
    "description": {% filter tojson %}{%- if '"' in description or '\\' in description -%} description must not contain double quotes or backslashes. {%- endif -%}{% endfilter %},
    "author_name": {% filter tojson %}{%- if not author_name.strip() -%} author_name must not be empty. {%- elif '"' in author_name or '\\' in author_name -%} author_name must not contain double quotes or backslashes. {%- endif -%}{% endfilter %},
    "author_email": {% filter tojson %}{%- set parts = author_email.split('@') -%} {%- if parts | length != 2 or not parts[0] or '.' not in parts[1] or parts[1].startswith('.') or parts[1].endswith('.') or ' ' in author_email or '"' in author_email or not author_email.isascii() -%} author_email "{{ author_email }}" is not a valid e-mail address: expected something like "name@example.com". {%- endif -%}{% endfilter %},
}

failed = False
for question, message in MESSAGES.items():
    if message.strip():
        print(f"Validation error for question '{question}': {message.strip()}", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
