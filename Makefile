# Meta-Learning, Hands-On — the only commands you need:
#   make lab     set everything up (first time) and open the course in JupyterLab, serving the whole
#                project and opening notebooks/00_start_here.ipynb (with COURSE_LANG=zh the Chinese
#                edition, notebooks/zh/00_start_here.ipynb); options for JupyterLab go in
#                LAB_ARGS, e.g. `make lab LAB_ARGS="--no-browser --port 8899"`
#   make test    set everything up (first time) and run unit tests + every notebook (smoke budget)
#   make course  execute every chapter (default budget) and render a browsable site into build/
#   make bench   run the performance benchmarks
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := meta-learning-hands-on
# The Chinese notebooks' kernel: the same Python, with COURSE_LANG=zh (hints and messages in Chinese).
KERNEL_ZH := meta-learning-hands-on-zh
KERNEL_ZH_SPEC := $(VENV)/share/jupyter/kernels/$(KERNEL_ZH)/kernel.json
START  := notebooks/$(if $(filter zh,$(COURSE_LANG)),zh/)00_start_here.ipynb
# The course's JupyterLab settings (no news pop-up), installed where JupyterLab reads defaults.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.d/$(KERNEL).json
LAB_ARGS ?=
NBVAL  := --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider
# Jupyter refuses to run as root (containers) unless told; the flag is added only for root.

.PHONY: lab test course bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0] + ": run `make PYTHON=python3.11 ...`")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[lab,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (Meta-Learning, Hands-On)" >/dev/null
	touch $(STAMP)

$(KERNEL_ZH_SPEC): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL_ZH) --display-name "Python (元学习实战)" --env COURSE_LANG zh >/dev/null

$(LAB_SETTINGS): jupyterlab-settings/overrides.json $(STAMP)
	mkdir -p $(dir $@)
	cp $< $@

lab: $(STAMP) $(LAB_SETTINGS) $(KERNEL_ZH_SPEC)
	$(BIN)/python -m course_lib doctor || true
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) --ServerApp.root_dir=. \
		--LabApp.default_url=/lab/tree/$(START) $(LAB_ARGS)

test: $(STAMP) $(LAB_SETTINGS) $(KERNEL_ZH_SPEC)
	COURSE_BUDGET=smoke $(BIN)/python -m pytest tests notebooks --ignore=notebooks/zh $(NBVAL)
	COURSE_BUDGET=smoke COURSE_LANG=zh $(BIN)/python -m pytest notebooks/zh $(NBVAL)

course: $(STAMP)
	$(BIN)/python tools/build_course.py

bench: $(STAMP)
	-$(BIN)/python -m pip install -q higher
	-$(BIN)/python -m pip install -q --no-deps torchopt optree graphviz
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf build .pytest_cache
