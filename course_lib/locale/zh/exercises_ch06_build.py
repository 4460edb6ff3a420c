"""Chinese text of course_lib.exercises.ch06_build (memory read, LRUA write): verdicts, problems and hints."""

MESSAGES = {
    "calling it raised {error_type}: {error}": "调用它时引发了 {error_type}：{error}",
    "Exercise 6.2": "练习 6.2",
    "sort each row of usage in increasing order (torch.sort(..., stable=True) so that ties go to the "
    "lower index), take the first n indices and scatter ones there":
        "把 usage 的每一行按升序排序（用 torch.sort(..., stable=True)，使相等时取较小的索引），取前 "
        "n 个索引，在这些位置上 scatter 写入 1",
    "you marked the MOST used slots; w^lu points at the least used ones":
        "你标记的是使用量最大的记忆槽；w^lu 指向的是使用量最小的那些",
    "with n = 2 there must be two ones (one per read head)": "n = 2 时必须有两个 1（每个读头一个）",
    "w^lu marks the slots LRUA may overwrite": "w^lu 标出了 LRUA 可以覆盖写入的记忆槽",
    "Exercise 6.3": "练习 6.3",
    "w^lu = my_least_used(prev_usage, R) with R = gate_logit.shape[1]; then w^w = sigmoid(alpha) * "
    "w^r_{t-1} + (1 - sigmoid(alpha)) * w^lu; alpha [B, R] needs a trailing dimension, w^lu [B, S] a "
    "head dimension":
        "w^lu = my_least_used(prev_usage, R)，其中 R = gate_logit.shape[1]；然后 w^w = "
        "sigmoid(alpha) * w^r_{t-1} + (1 - sigmoid(alpha)) * w^lu；alpha [B, R] 需要在末尾加一个维度，"
        "w^lu [B, S] 需要加一个读头维度",
    "the gate is the wrong way round: sigmoid(alpha) multiplies the PREVIOUS READ weights (update "
    "the slot just used), 1 - sigmoid(alpha) the least-used weights":
        "门控用反了：sigmoid(alpha) 乘的是上一步的读权重（更新刚用过的记忆槽），1 - sigmoid(alpha) "
        "乘的是最少使用权重",
    "alpha is a logit: squash it with torch.sigmoid before mixing":
        "alpha 是一个 logit：混合之前要先用 torch.sigmoid 把它压缩",
    "the least-used weights sit on the MOST used slots: sort the usage in increasing order":
        "最少使用权重落在了使用量最大的记忆槽上：请把使用量按升序排序",
    "the least-used slots were computed from the previous READ weights; they come from the usage "
    "w^u_{t-1}, the decayed history of every read and write":
        "最少使用的记忆槽是根据上一步的读权重算出来的；它们应来自使用量 w^u_{t-1}，"
        "即所有读写经过衰减后的历史",
    "w^lu has R ones (one per read head), not one: the single least-used slot is the one the model "
    "erases, the R least used are the write candidates":
        "w^lu 有 R 个 1（每个读头一个），而不是一个：使用量最小的那一个记忆槽是模型要擦除的，"
        "使用量最小的 R 个才是写入的候选",
    "the usage itself went into the interpolation; mix with the least-used weights w^lu (ones on the "
    "R least used slots) instead":
        "参与插值的是使用量本身；应改为与最少使用权重 w^lu（在使用量最小的 R 个记忆槽上为 1）混合",
    "a head puts sigma(alpha) on the slots it just read and 1 - sigma(alpha) on each of the R "
    "least-used slots":
        "每个头在刚读过的记忆槽上放 sigma(alpha)，在使用量最小的 R 个记忆槽上各放 1 - sigma(alpha)",
    "the softmax runs over the HEADS axis (dim=1); each head's weights are a distribution over the "
    "memory SLOTS, the last axis":
        "softmax 作用在了读头轴（dim=1）上；每个读头的权重应是记忆槽（最后一个轴）上的分布",
    "the softmax runs over the BATCH axis (dim=0); it belongs on the slots axis (dim=-1)":
        "softmax 作用在了批次轴（dim=0）上；它应作用在记忆槽轴（dim=-1）上",
    "you used the dot product k . M(i); divide by both norms (cosine similarity), otherwise slots "
    "with large entries win whatever their direction":
        "你用的是点积 k . M(i)；请除以两个范数（余弦相似度），否则数值大的记忆槽无论方向如何都会胜出",
    "only the key was normalised: a cosine divides by the norm of the key AND of each memory row":
        "只有键做了归一化：余弦要同时除以键的范数和每个记忆行的范数",
    "only the memory rows were normalised: a cosine divides by the norm of the key AND of each "
    "memory row":
        "只有记忆行做了归一化：余弦要同时除以键的范数和每个记忆行的范数",
    "the key strength beta is missing: multiply the similarities by strength[..., None] before the "
    "softmax":
        "缺少键强度 beta：在 softmax 之前把相似度乘以 strength[..., None]",
    "beta was applied after the softmax; it sharpens by scaling the similarities inside it (then the "
    "weights still sum to one)":
        "beta 被用在了 softmax 之后；它应在 softmax 内部缩放相似度来使分布更尖锐（这样权重之和仍为 1）",
    "you divided by beta; multiply, so that a larger strength gives a sharper read":
        "你除以了 beta；应该乘以它，这样强度越大，读取越集中",
    "Exercise 6.4": "练习 6.4",
    "cos = (k . M(i)) / (||k|| ||M(i)||) for every head and slot ([B, R, S], e.g. with "
    "torch.einsum('brw,bsw->brs', ...)); weights = softmax(strength[..., None] * cos, dim=-1); reads "
    "= weights @ memory ([B, R, S] x [B, S, W])":
        "对每个读头和每个记忆槽计算 cos = (k . M(i)) / (||k|| ||M(i)||)（[B, R, S]，例如用 "
        "torch.einsum('brw,bsw->brs', ...)）；weights = softmax(strength[..., None] * cos, dim=-1)；"
        "reads = weights @ memory（[B, R, S] x [B, S, W]）",
    "it returned None on test case {i}": "它在测试用例 {i} 上返回了 None",
    "return a pair (read_weights, reads), got {type_name}":
        "请返回一个二元组 (read_weights, reads)，实际得到 {type_name}",
    "read weights: {problem}": "读权重：{problem}",
    "read weights, test case {i}: {problem}": "读权重，测试用例 {i}：{problem}",
    "the read weights are right but the read vectors are not r = sum_i w^r(i) M(i) (test case {i}): "
    "{problem}":
        "读权重是对的，但读出向量不是 r = sum_i w^r(i) M(i)（测试用例 {i}）：{problem}",
    "no gradient flows through your read (torch.no_grad(), .detach(), or a NumPy round trip?): the "
    "controller learns its keys through it":
        "没有梯度流过你的读取操作（用了 torch.no_grad()、.detach()，还是在 NumPy 里转了一圈？）："
        "控制器正是通过它来学习键的",
    "the values are right but the gradient with respect to {label} is not (a .detach() or an "
    "in-place edit inside the read?)":
        "数值是对的，但对 {label} 的梯度不对（读取操作里有 .detach() 或原地修改？）",
    "cosine similarity, a softmax over the slots sharpened by beta, and a weighted sum of the rows: "
    "values and gradients match the library":
        "余弦相似度、经 beta 锐化的记忆槽 softmax，以及各行的加权和：数值和梯度都与库一致",
}
