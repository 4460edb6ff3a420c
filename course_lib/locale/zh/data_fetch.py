"""Chinese text of course_lib.data.fetch: a missing, corrupt or undownloadable data file and its fix."""

MESSAGES = {
    "Data file {key} is missing ({reason}).\n  expected at: {path}\n  expected md5: {md5}\n  fix: run "
    "`{fix}`, or download {url} to that path by hand, or set COURSE_DATA_DIR to a folder that already "
    "holds it.":
        "数据文件 {key} 缺失（{reason}）。\n  应在位置：{path}\n  期望 md5："
        "{md5}\n  修复：运行 `{fix}`，或者手动把 {url} 下载到该路径，或者把 "
        "COURSE_DATA_DIR 设为一个已经包含它的文件夹。",
    " (it has {size:,} bytes, the complete file has {complete:,}: truncated)":
        "（它有 {size:,} 字节，完整文件有 {complete:,} 字节：文件被截断了）",
    "Data file {key} at {path} is corrupt{hint}.\n": "位于 {path} 的数据文件 {key} 已损坏{hint}。\n",
    "  found: {actual}\n": "  实际内容：{actual}\n",
    "  expected md5: {md5}\n  actual md5:   {actual}\n": "  期望 md5：{md5}\n  实际 md5：{actual}\n",
    "  fix: run `{fix}` to replace it with a fresh copy of {url}.": "  修复：运行 `{fix}`，用 {url} 的一份新副本替换它。",
    "downloads are switched off": "下载已被关闭",
    "the data folder {folder} is read-only, e.g. an offline mirror, so it cannot be downloaded there":
        "数据文件夹 {folder} 是只读的（例如一个离线镜像），所以无法下载到那里",
    "\n  (or point COURSE_DATA_DIR at a writable folder and run the command above)":
        "\n  （或者把 COURSE_DATA_DIR 指向一个可写的文件夹，然后运行上面的命令）",
    "truncated download: got {received:,} of {expected:,} bytes":
        "下载被截断：收到 {received:,} 字节，共 {expected:,} 字节",
    "expected md5 {md5}, got {actual}": "期望 md5 {md5}，实际得到 {actual}",
    "mismatch after download: {problem} ({received:,} bytes)": "下载后校验不符：{problem}（{received:,} 字节）",
    "cannot create {folder}: {err}": "无法创建 {folder}：{err}",
    "{folder} is read-only": "{folder} 是只读的",
    "attempt {n}: HTTP {code} {reason}": "第 {n} 次尝试：HTTP {code} {reason}",
    "attempt {n}: {err}": "第 {n} 次尝试：{err}",
    "Could not download data file {key} from {url}.\n    {details}\n  expected md5: {md5}\n  fix: check the "
    "internet connection and run `{fix}` again, or download the URL by hand to {target} (or set "
    "COURSE_DATA_DIR to a folder that already holds it).":
        "无法从 {url} 下载数据文件 {key}。\n    {details}\n  期望 md5："
        "{md5}\n  修复：检查网络连接，然后重新运行 `{fix}`；或者手动把该 URL 下载到 "
        "{target}（或者把 COURSE_DATA_DIR 设为一个已经包含它的文件夹）。",
}
