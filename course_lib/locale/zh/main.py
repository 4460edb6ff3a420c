"""Chinese text of course_lib.__main__'s doctor: its findings, fixes and summary line."""

MESSAGES = {
    "pip install -e '.[lab,test]' (or `make lab`, which also creates the virtual environment)":
        "pip install -e '.[lab,test]'（或者 `make lab`，"
        "它还会创建虚拟环境）",
    "arrays": "数组",
    "plots": "绘图",
    "tensors and autograd": "张量与自动求导",
    "decoding Omniglot images": "解码 Omniglot 图像",
    "progress bars": "进度条",
    "interactive demos": "交互式演示",
    "opening the notebooks": "打开 notebook",
    "testing the notebooks": "测试 notebook",
    "{version} is too old; Python {need}+ is needed. Fix: install Python {need} or newer and recreate "
    "the environment (`make lab PYTHON=python{need}`).":
        "{version} 太旧了；需要 Python {need}+。修复：安装 Python "
        "{need} 或更新版本，然后重新创建环境（`make lab "
        "PYTHON=python{need}`）。",
    "cannot be imported ({error}: {err}); needed for {purpose}. Fix: {install}":
        "无法导入（{error}：{err}）；{purpose}需要它。修复：{install}",
    "not installed (optional, for {purpose}; pip install -e '.[{extra}]')":
        "未安装（可选，用于{purpose}；pip install -e '.[{extra}]'）",
    "torch version": "torch 版本",
    "{version}: PyTorch {need}+ with torch.func is needed. Fix: {install}":
        "{version}：需要带 torch.func 的 PyTorch {need}+。修复："
        "{install}",
    "CPU-only build": "仅 CPU 构建",
    "automatic choice": "自动选择",
    "a sum of four ones gave {value} on {device}": "四个 1 相加在 {device} 上得到了 {value}",
    "Unset COURSE_DEVICE": "取消设置 COURSE_DEVICE",
    " Fix: unset COURSE_DEVICE (or set it to 'cpu') to use the CPU, or install a PyTorch build for that "
    "accelerator.":
        "修复：取消设置 COURSE_DEVICE（或把它设为 'cpu'）以使用 CPU，"
        "或者安装支持该加速器的 PyTorch 构建。",
    "device": "设备",
    "budget": "计算预算",
    "COURSE_DATA_DIR={path} does not exist. Fix: correct the path, create the folder, or unset "
    "COURSE_DATA_DIR to use the default.":
        "COURSE_DATA_DIR={path} 不存在。修复：改正路径、创建该文件夹，"
        "或者取消设置 COURSE_DATA_DIR 以使用默认位置。",
    "data folder": "数据文件夹",
    "read-only (an offline mirror: nothing can be downloaded into it)": "只读（离线镜像：无法向其中下载任何文件）",
    "writable": "可写",
    "{folder} ({kind})": "{folder}（{kind}）",
    "present, md5 verified": "已存在，md5 校验通过",
    "corrupt: md5 {actual}, expected {md5}. Fix: {fix}": "已损坏：md5 为 {actual}，期望 {md5}。修复：{fix}",
    "not present (large; needed only for the full Omniglot splits). Get it with: {fix}":
        "不存在（文件很大；只有完整的 Omniglot 划分才需要它）。获取方式：{fix}",
    "not downloaded yet; fetched on first use, or now with: {fix}": "尚未下载；首次使用时会自动获取，也可以现在运行：{fix}",
    "missing from the read-only data folder {folder}. Fix: add it to the mirror ({url}), or point "
    "COURSE_DATA_DIR at a writable folder and run `{fix}`.":
        "只读数据文件夹 {folder} 中缺少该文件。修复：把它加入镜像（{url}），或者把 "
        "COURSE_DATA_DIR 指向一个可写的文件夹，然后运行 `{fix}`。",
    "the default cache folder": "默认缓存文件夹",
    "cache folder": "缓存文件夹",
    "{target} is not writable ({err}). Fix: set COURSE_CACHE_DIR to a writable folder, e.g. `export "
    "COURSE_CACHE_DIR=$HOME/.cache/course`.":
        "{target} 不可写（{err}）。修复：把 COURSE_CACHE_DIR "
        "设为一个可写的文件夹，例如 `export COURSE_CACHE_DIR=$HOME/.ca"
        "che/course`。",
    "{folder} (writable)": "{folder}（可写）",
    "the check failed: {err!r}": "检查本身失败了：{err!r}",
    "OK": "正常",
    "PROBLEM": "问题",
    "Everything looks fine.": "一切正常。",
    "{n} problem(s) found.": "发现 {n} 个问题。",
}
