"""Chinese text of course_lib.runtime: setup()'s banner and the errors for COURSE_BUDGET, COURSE_DEVICE, COURSE_THREADS."""

MESSAGES = {
    "COURSE_BUDGET={value!r} is not a budget. Use one of {budgets}, e.g. `COURSE_BUDGET=smoke make lab` "
    "for a quick run, or unset it for the default 'standard'.":
        "COURSE_BUDGET={value!r} 不是一个计算预算。请使用 {budgets} "
        "之一，例如用 `COURSE_BUDGET=smoke make lab` 快速运行一遍，"
        "或者取消设置它以使用默认的 'standard'。",
    "COURSE_DEVICE={requested!r} is not a device name. Use 'cpu', 'cuda', 'cuda:0' or 'mps'.":
        "COURSE_DEVICE={requested!r} 不是一个设备名。请使用 'cpu'、"
        "'cuda'、'cuda:0' 或 'mps'。",
    "Device {requested!r} was requested but this PyTorch build sees no CUDA GPU (torch {torch}, CUDA "
    "build: {cuda}). Unset COURSE_DEVICE to run on the CPU, or install a CUDA build of PyTorch.":
        "请求了设备 {requested!r}，但这个 PyTorch 构建看不到任何 CUDA "
        "GPU（torch {torch}，CUDA 构建：{cuda}）。取消设置 "
        "COURSE_DEVICE 即可在 CPU 上运行，或者安装一个 CUDA 版本的 "
        "PyTorch。",
    "Device {requested!r} was requested but only {count} GPU(s) exist.":
        "请求了设备 {requested!r}，但只有 {count} 个 GPU。",
    "Device {requested!r} was requested but Apple MPS is not available here. Unset COURSE_DEVICE to run "
    "on the CPU.":
        "请求了设备 {requested!r}，但这里没有可用的 Apple MPS。取消设置 "
        "COURSE_DEVICE 即可在 CPU 上运行。",
    "COURSE_THREADS={value!r} is not a number of threads. Use a positive integer, e.g. `COURSE_THREADS=2 "
    "make lab`, or unset it to use every core.":
        "COURSE_THREADS={value!r} 不是一个线程数。请使用正整数，例如 "
        "`COURSE_THREADS=2 make lab`，或者取消设置它以使用所有核心。",
    " (fewer: COURSE_THREADS={n} make lab)": "（减少线程：COURSE_THREADS={n} make lab）",
    " (more: COURSE_THREADS={n} make lab)": "（增加线程：COURSE_THREADS={n} make lab）",
    "course_lib | Python {python} | torch {torch} | device {device}{accel} | budget {budget} | seed "
    "{seed}":
        "course_lib | Python {python} | torch {torch} | "
        "设备 {device}{accel} | 计算预算 {budget} | 随机种子 {seed}",
    "threads: torch uses {threads} of {cores} CPU cores{hint} | data: {data}/":
        "线程：torch 使用 {cores} 个 CPU 核心中的 {threads} "
        "个{hint} | 数据：{data}/",
}
