#!/bin/sh
# azd `postdeploy` hook (azure.yaml), POSIX shells: load the sample corpus into Azure AI Search and
# ask the deployed app one question (scripts/postdeploy.py says how). Works from a fresh shell: it
# uses the repository's .venv, creating it or adding the `azure` extra when that is missing.
# Skip it: `azd env set PIPELINE_SKIP_POSTDEPLOY true` (or PIPELINE_SKIP_POSTDEPLOY=true azd up).
set -eu
cd "$(dirname "$0")/.."

case "$(printf '%s' "${PIPELINE_SKIP_POSTDEPLOY:-}" | tr '[:upper:]' '[:lower:]')" in
    1|true|yes)
        echo "postdeploy: skipped (PIPELINE_SKIP_POSTDEPLOY is set)"
        exit 0
        ;;
esac

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    echo "postdeploy: creating $VENV with $PYTHON (Python 3.11 or later)"
    if ! "$PYTHON" -m venv "$VENV"; then
        echo "postdeploy: error: could not create $VENV with $PYTHON: install Python 3.11+, or set PYTHON" >&2
        exit 1
    fi
    "$VENV/bin/python" -m pip install --quiet -c requirements.lock pip
fi
# `pipeline index` on Azure and the hook itself need the `azure` extra (Azure SDKs and azure-identity).
if [ ! -x "$VENV/bin/pipeline" ] || ! "$VENV/bin/python" -c "import azure.identity, azure.search.documents, openai" 2>/dev/null; then
    echo "postdeploy: installing the project with its azure extra into $VENV"
    if ! "$VENV/bin/python" -m pip install --quiet -e '.[azure]' -c requirements.lock --build-constraint requirements.lock; then
        echo "postdeploy: error: could not install the project into $VENV (see pip's message above)" >&2
        exit 1
    fi
fi
exec "$VENV/bin/python" scripts/postdeploy.py
