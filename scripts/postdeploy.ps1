# azd `postdeploy` hook (azure.yaml), Windows: the same as scripts/postdeploy.sh. Loads the sample
# corpus into Azure AI Search and asks the deployed app one question (scripts/postdeploy.py), using
# the repository's .venv, created or completed with the `azure` extra when needed.
# Skip it: `azd env set PIPELINE_SKIP_POSTDEPLOY true`.
$ErrorActionPreference = 'Stop'
Set-Location (Join-Path $PSScriptRoot '..')

if ("$env:PIPELINE_SKIP_POSTDEPLOY".Trim().ToLower() -in @('1', 'true', 'yes')) {
    Write-Host 'postdeploy: skipped (PIPELINE_SKIP_POSTDEPLOY is set)'
    exit 0
}

$python = if ($env:PYTHON) { $env:PYTHON } else { 'python' }
$venvPython = Join-Path '.venv' 'Scripts/python.exe'
if (-not (Test-Path $venvPython)) {
    Write-Host "postdeploy: creating .venv with $python (Python 3.11 or later)"
    & $python -m venv .venv
    if ($LASTEXITCODE -ne 0) {
        Write-Error "postdeploy: could not create .venv with ${python}: install Python 3.11+, or set PYTHON"
        exit 1
    }
    & $venvPython -m pip install --quiet -c requirements.lock pip
}
& $venvPython -c 'import azure.identity, azure.search.documents, openai' 2>$null
if ($LASTEXITCODE -ne 0 -or -not (Test-Path (Join-Path '.venv' 'Scripts/pipeline.exe'))) {
    Write-Host 'postdeploy: installing the project with its azure extra into .venv'
    & $venvPython -m pip install --quiet -e '.[azure]' -c requirements.lock --build-constraint requirements.lock
    if ($LASTEXITCODE -ne 0) {
        Write-Error "postdeploy: could not install the project into .venv (see pip's message above)"
        exit 1
    }
}
& $venvPython scripts/postdeploy.py
exit $LASTEXITCODE
