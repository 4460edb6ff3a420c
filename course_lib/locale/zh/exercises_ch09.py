"""Chinese text of course_lib.exercises.ch09 (lifelong meta-learning): verdicts, problems and hints."""

MESSAGES = {
    "you averaged over all T tasks; the last task has no 'later' accuracy, so average over the first "
    "T-1 only":
        "你对全部 T 个任务取了平均；最后一个任务没有“之后”的准确率，所以只对前 T-1 个任务取平均",
    "you compared with the first row R[0, j]; compare with R[j, j], the accuracy just after learning "
    "task j":
        "你比较的是第一行 R[0, j]；应与 R[j, j] 比较，即刚学完任务 j 时的准确率",
    "that is the mean final accuracy on the old tasks; BWT subtracts R[j, j] from each R[T-1, j]":
        "这是旧任务上的平均最终准确率；BWT 要从每个 R[T-1, j] 中减去 R[j, j]",
    "Exercise 9.1 (backward transfer)": "练习 9.1（反向迁移）",
    "compare each old task's accuracy at the end of the stream (the last row) with its accuracy "
    "right after it was learned (the diagonal); the last task has no 'later', so average over T-1 "
    "tasks":
        "把每个旧任务在任务流结束时的准确率（最后一行）与它刚学完时的准确率（对角线）进行比较；"
        "最后一个任务没有“之后”，所以对 T-1 个任务取平均",
    "negative BWT means the old tasks got worse: forgetting": "BWT 为负表示旧任务变差了：即遗忘",
    "Exercise 9.2 (forgetting measure)": "练习 9.2（遗忘度量）",
    "for every old task j: best accuracy over rows j..T-2 of column j, minus the final R[T-1, j]; "
    "then average":
        "对每个旧任务 j：取第 j 列中第 j..T-2 行的最高准确率，减去最终的 R[T-1, j]；然后取平均",
    "that is -BWT (you used the diagonal R[j, j]); the forgetting measure uses the BEST earlier "
    "accuracy of task j, which can be higher than R[j, j] after positive transfer":
        "这是 -BWT（你用的是对角线 R[j, j]）；遗忘度量用的是任务 j 此前的最高准确率，"
        "在发生正向迁移之后它可能高于 R[j, j]",
    "your max also looks at rows before task j was learned (l < j); start at row j":
        "你取最大值时还看了学习任务 j 之前的行（l < j）；应从第 j 行开始",
    "forgetting >= -BWT always, with equality when no task ever improved after its own training":
        "总有 forgetting >= -BWT，当没有任何任务在自身训练之后再提高时取等号",
    "you assumed the support is sorted by label (a reshape); select each class with support_y == k":
        "你假定了支持集按标签排好了序（用了 reshape）；请用 support_y == k 选出每个类别",
    "that is minus the distance; ProtoNet's logit is minus the SQUARED distance":
        "这是负的距离；ProtoNet 的 logit 是负的距离平方",
    "those are probabilities (after a softmax); return the logits, the loss applies the softmax "
    "itself":
        "这些是概率（经过了 softmax）；请返回 logits，损失函数自己会做 softmax",
    "Exercise 9.3 (prototype head)": "练习 9.3（原型头）",
    "prototype c_k = mean of the embeddings of the support examples labelled k (labels come in any "
    "order); logit[q, k] = minus the squared Euclidean distance between query q and c_k":
        "原型 c_k = 标签为 k 的支持集样本的嵌入均值（标签的顺序是任意的）；logit[q, k] = 查询样本 q "
        "与 c_k 之间欧氏距离平方的相反数",
    "a prototype head is learned in one pass over the memory: nothing to forget":
        "原型头只需遍历一遍记忆就能学到：没有什么可遗忘的",
    "Exercise 9.4 (reading the matrix)": "练习 9.4（读懂矩阵）",
    "row i = after training on task i, column j = tested on task j: follow the first task down its "
    "column, from the moment it was learned to the end; answer in percentage points":
        "第 i 行 = 在任务 i 上训练之后，第 j 列 = 在任务 j 上测试：沿着第一个任务所在的列往下看，"
        "从它刚学完的时刻一直到最后；用百分点作答",
    "that is a fraction; give percentage points (x 100)": "这是一个小数；请给出百分点（x 100）",
    "you read a row instead of a column: R[0, -1] is task T-1 before it was learned":
        "你读的是行而不是列：R[0, -1] 对应的是尚未学习的任务 T-1",
}
