"""Chinese text of course_lib.exercises.ch07_build (adapting to a new student): verdicts, problems, hints."""

MESSAGES = {
    "calling it on test case {i} raised {error_type}: {error}":
        "在测试用例 {i} 上调用它时引发了 {error_type}：{error}",
    "it returned None on test case {i}": "它在测试用例 {i} 上返回了 None",
    "the result has no autograd graph back to the starting ability: do not detach, call .item() or "
    "wrap the loop in torch.no_grad(), or MAML cannot train where students start":
        "结果没有连回初始能力的 autograd 计算图：不要 detach，不要调用 .item()，也不要把循环放进 "
        "torch.no_grad()，否则 MAML 无法训练学生的初始能力",
    "no gradient flows through the inner steps (first-order MAML): pass create_graph=True to "
    "torch.autograd.grad so that the adapted abilities stay a differentiable function of the "
    "starting ability and the skill parameters":
        "没有梯度流过内循环的各步（一阶 MAML）：请给 torch.autograd.grad 传入 create_graph=True，"
        "使适应后的能力仍是初始能力和技能参数的可微函数",
    "the starting ability": "初始能力",
    "on test case {i} the values are right but the gradient with respect to {names} differs from "
    "MAML's meta-gradient":
        "测试用例 {i}：数值是对的，但对 {names} 的梯度与 MAML 的元梯度不同",
    ", ": "、",
    "Exercise 7.2": "练习 7.2",
    "one row of abilities per student, all starting at start_ability; at each step the support loss "
    "(each student's mean, summed over students), its gradient with respect to the abilities only, "
    "keeping the graph for the meta-gradient, and a step of size inner_lr downhill":
        "每名学生一行能力，都从 start_ability 出发；每一步计算支持集损失（每名学生取均值，"
        "再对学生求和），只对能力求梯度，并为元梯度保留计算图，然后沿下坡方向走一步，步长为 inner_lr",
    "the abilities climb the support loss (sign error): step ability - inner_lr * grad":
        "能力在支持集损失上往上爬（符号错误）：应走 ability - inner_lr * grad",
    "you took the mean over all answers of the batch instead of per student: each student's gradient "
    "is divided by the number of students B, so the step size depends on the batch size. Use the "
    "mean per student, summed over students (masked_bce's per_student=True)":
        "你对整个批次的所有作答取了均值，而不是逐学生取均值：每名学生的梯度都被除以了学生数 B，"
        "于是步长取决于批次大小。请每名学生取均值，再对学生求和（masked_bce 的 per_student=True）",
    "you summed each student's answers instead of averaging them: the step then grows with the "
    "number of answers k":
        "你对每名学生的作答求和而不是取平均：这样步长会随作答数 k 增大",
    "you adapted the skill parameters too: the inner loop moves only the abilities; the skills are "
    "shared by every student and trained by the outer loop":
        "你把技能参数也一起适应了：内循环只移动能力；技能参数由所有学生共享，由外循环训练",
    "the result": "结果",
    "on test case {i}: {problem}": "测试用例 {i}：{problem}",
    "the same abilities and the same second-order meta-gradient as the library":
        "能力和二阶元梯度都与库完全一致",
    "Exercise 7.3": "练习 7.3",
    "adapt on each student's support answers with your Exercise 7.2 function (pass it first), then "
    "score the other answers with the adapted abilities, leaving out the padding, and average over "
    "the students of the batch":
        "用你在练习 7.2 中写的函数（先让它通过检查）在每名学生的支持集作答上适应，"
        "然后用适应后的能力对其余作答计算损失（去掉填充部分），再对批次中的学生取平均",
    "the meta-loss": "元损失",
    "you scored the SUPPORT answers: they were used to adapt, so their loss measures memorising, not "
    "predicting; use the query":
        "你计算的是支持集作答的损失：它们已被用于适应，所以它们的损失衡量的是记忆而不是预测；"
        "请用查询集",
    "you summed over students: divide by len(tasks), or the meta-gradient grows with the number of "
    "students in the batch":
        "你对学生求了和：请除以 len(tasks)，否则元梯度会随批次中的学生数增大",
    "you averaged over all query answers: students with more query answers then weigh more; average "
    "per student first":
        "你对所有查询集作答取了平均：这样查询集作答多的学生权重更大；请先逐学生取平均",
    "you scored the query with the starting ability: adapt first, then score the query with the "
    "adapted abilities":
        "你用初始能力计算了查询集的损失：请先适应，再用适应后的能力计算查询集损失",
    "you scored the padding too: pass tasks.query_mask to masked_bce":
        "你把填充部分也算进去了：请把 tasks.query_mask 传给 masked_bce",
    "the query loss after adaptation, with MAML's second-order meta-gradient":
        "适应之后的查询集损失，以及 MAML 的二阶元梯度",
}
