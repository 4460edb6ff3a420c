"""Chinese text of course_lib.exercises.ch04 (learned optimizers): verdicts, problems and hints."""

MESSAGES = {
    "Exercise {number}": "练习 {number}",
    "one new dict with the same names; each gradient entry is multiplied by ITS OWN step size "
    "(element-wise, no global learning rate) and the step goes down the gradient":
        "返回一个名字相同的新 dict；每个梯度元素都乘以它自己的步长（逐元素，没有全局学习率），"
        "并且沿梯度下降的方向走",
    "expected a dict of tensors, got a {kind}": "期望一个由张量组成的 dict，实际得到一个 {kind}",
    "the result has keys {got} but should have {want}": "结果的键是 {got}，但应为 {want}",
    "you added the step: descent subtracts α ∘ g from θ": "你把这一步加上去了：下降应当从 θ 中减去 α ∘ g",
    "the step sizes are missing (θ − g)": "缺少步长（θ − g）",
    "the arguments are mixed up: the order is (params, grads, step_sizes)":
        "参数的顺序弄混了：顺序是 (params, grads, step_sizes)",
    "θ' = θ − α ∘ ∇L, one learned step size per parameter entry": "θ' = θ − α ∘ ∇L，每个参数元素都有一个学习得到的步长",
    "θ + α ∘ g: the inner step must go DOWN the support gradient, θ − α ∘ g (a sign error)":
        "θ + α ∘ g：内循环步必须沿支持集梯度下降，θ − α ∘ g（符号错误）",
    "that is the SUPPORT loss after adaptation; the meta-loss is the QUERY loss of the adapted parameters":
        "这是适应之后的支持集损失；元损失是适应后参数的查询集损失",
    "that is the query loss at θ, before adaptation: take the inner step θ' = θ − α ∘ ∇L_support(θ) first":
        "这是 θ 处、适应之前的查询集损失：请先走内循环步 θ' = θ − α ∘ "
        "∇L_support(θ)",
    "one scalar step size per tensor (a mean?): Meta-SGD multiplies each gradient entry by its own α "
    "entry":
        "每个张量只用了一个标量步长（取了均值？）：Meta-SGD 把每个梯度元素乘以它自己的 α 元素",
    "one scalar step size for all parameters: Meta-SGD multiplies each gradient entry by its own α entry":
        "所有参数只用了一个标量步长：Meta-SGD 把每个梯度元素乘以它自己的 α 元素",
    "the SUM over tasks: the meta-loss is the MEAN over the tasks of the batch": "这是对任务求和：元损失是对批次中各任务取平均",
    "only the last task's loss: accumulate the query losses of all tasks, then take their mean":
        "只有最后一个任务的损失：请累积所有任务的查询集损失，然后取平均",
    "Build it yourself: Meta-SGD meta-loss": "动手实现：Meta-SGD 元损失",
    "per task: the support loss at params, its gradient (kept differentiable), the adapted dict θ − α ∘ "
    "g, the loss of the adapted dict on the query set; then combine the tasks as the formula says":
        "对每个任务：计算 params 处的支持集损失及其梯度（保持可微），得到适应后的 dict θ "
        "− α ∘ g，再计算适应后的 dict 在查询集上的损失；然后按公式把各任务合并起来",
    "calling it on test case {i} raised {error}: {err}": "在测试用例 {i} 上调用它时引发了 {error}：{err}",
    "it returned None (a missing return?)": "它返回了 None（漏了 return？）",
    "the result has no autograd graph (.item(), .detach() or torch.no_grad()?): the meta-loss must be "
    "differentiable in params and step sizes":
        "结果没有 autograd 计算图（用了 .item()、.detach() 或 "
        "torch.no_grad()？）：元损失必须对 params 和步长可微",
    "it should return one scalar tensor (the mean over tasks), got {shape}":
        "它应当返回一个标量张量（对任务的平均），实际得到 {shape}",
    "on test case {i}: {problem}": "测试用例 {i}：{problem}",
    "on test case {i}: the step sizes receive no gradient and the value is off: use the step_sizes "
    "tensors themselves in θ − α ∘ g (not a number)":
        "测试用例 {i}：步长没有得到梯度，并且值也不对：请在 θ − α ∘ g 中直接使用 "
        "step_sizes 张量本身（而不是一个数）",
    "on test case {i}: the value differs from Meta-SGD's meta-loss: {problem}":
        "测试用例 {i}：值与 Meta-SGD 的元损失不同：{problem}",
    "the value is right but the step sizes receive no gradient: α was detached or used as a plain number "
    "(.item(), .detach(), float()), so Meta-SGD could not learn it":
        "值是对的，但步长没有得到梯度：α 被 detach 了，或被当作普通的数使用（.item()、"
        ".detach()、float()），所以 Meta-SGD 无法学习它",
    "the value is right but params receive no gradient (detached?)": "值是对的，但 params 没有得到梯度（被 detach 了？）",
    "the gradient with respect to step_sizes": "对 step_sizes 的梯度",
    "the gradient with respect to params": "对 params 的梯度",
    "the gradient with respect to params is FIRST order: the inner gradient needs create_graph=True so "
    "that the meta-gradient keeps its Hessian term":
        "对 params 的梯度是一阶的：内循环梯度需要 create_graph=True，"
        "元梯度才能保留海森项",
    "same value and same meta-gradients (params and step sizes) as course_lib's meta_loss":
        "值和元梯度（对 params 和步长）都与 course_lib 的 meta_loss 相同",
    "count every number Meta-SGD's outer optimizer updates: which meta-parameters are there, and their "
    "shapes?":
        "数一数 Meta-SGD 的外循环优化器更新的每一个数：有哪些元参数，它们的形状是什么？",
    "{n} is MAML's count (θ only); Meta-SGD also learns α": "{n} 是 MAML 的参数个数（只有 θ）；Meta-SGD 还要学习 α",
    "that is MAML plus one scalar step size (MAML with a learned scalar α); Meta-SGD learns one step "
    "size per entry":
        "这是 MAML 加上一个标量步长（学习一个标量 α 的 MAML）；Meta-SGD "
        "为每个元素学习一个步长",
    "{n} initial values + {n} step sizes": "{n} 个初始值 + {n} 个步长",
    "torch.where picks between the two branches of the formula per entry; clamp |g| before the log so "
    "that tiny entries do not produce -inf":
        "torch.where 按元素在公式的两个分支之间选择；取对数之前先对 |g| "
        "做截断（clamp），这样极小的元素就不会产生 -inf",
    "tiny or zero gradients give inf/NaN: the second branch (|g| < exp(-p)) is missing or the log is "
    "taken before clamping":
        "极小或为零的梯度得到了 inf/NaN：缺少第二个分支（|g| < exp(-p)），"
        "或者在截断之前就取了对数",
    "both channels are now O(1) whatever the gradient's magnitude": "无论梯度的量级如何，两个通道现在都是 O(1) 的",
    "differentiate ||Wθ − y||² twice to get the Hessian H, then apply lr < 2 / λ_max(H) per problem; "
    "torch.linalg.eigvalsh works on a batch [B, d, d] and sorts the eigenvalues in ascending order":
        "对 ||Wθ − y||² 求两次导得到海森矩阵 H，然后对每个问题应用 lr < 2 / "
        "λ_max(H)；torch.linalg.eigvalsh 可以作用于一批 [B, d, "
        "d] 矩阵，并按升序排列特征值",
    "2 / λ_max(WᵀW) forgets the factor 2 in the Hessian H = 2 WᵀW (d/dθ of ||Wθ − y||² is 2 Wᵀ(Wθ − y))":
        "2 / λ_max(WᵀW) 漏掉了海森矩阵 H = 2 WᵀW 中的因子 2（||Wθ − "
        "y||² 对 θ 的导数是 2 Wᵀ(Wθ − y)）",
    "1 / λ_max(H) is the step that *best* damps the stiffest direction; stability holds up to twice "
    "that, 2 / λ_max(H)":
        "1 / λ_max(H) 是对最陡方向衰减得*最好*的步长；稳定性可以一直保持到它的两倍，即 "
        "2 / λ_max(H)",
    "use the eigenvalues of WᵀW, not the singular values of W (λ(WᵀW) = σ(W)²)":
        "请使用 WᵀW 的特征值，而不是 W 的奇异值（λ(WᵀW) = σ(W)²）",
    "  One learning rate for all {n} problems must stay below the smallest, {lr:.2g}. With it, the "
    "flattest direction of a problem shrinks by a factor (1 - lr·λ_min) per step; the median condition "
    "number λ_max/λ_min here is {condition:.3g}{singular}.":
        "  对全部 {n} 个问题使用同一个学习率时，它必须低于其中最小的值 {lr:.2g}。"
        "用这个学习率，一个问题最平坦的方向每步只按因子 (1 - lr·λ_min) 缩小；这里条件数 "
        "λ_max/λ_min 的中位数是 {condition:.3g}{singular}。",
    " (a singular W)": "（W 是奇异的）",
    "A's tasks are i.i.d. draws from one fixed p(T), all available at every iteration: that is ordinary "
    "meta-training, whatever the step size does":
        "A 的任务是从一个固定的 p(T) 中独立同分布抽取的，每次迭代都能拿到全部任务：无论步长怎样，"
        "这都是普通的元训练",
    "MAML already meta-learns the initialisation (model.parameters() in the outer optimizer): which "
    "OTHER tensor does A's outer optimizer update?":
        "MAML 已经在元学习初始化参数了（model.parameters() 在外循环优化器中）："
        "A 的外循环优化器还更新了哪个别的张量？",
    "A computes no distances between embeddings: every task is solved by a gradient step":
        "A 不计算嵌入之间的距离：每个任务都通过一个梯度步来求解",
    "log_lr is handed to the outer optimizer and gets a meta-gradient through the adapted weights, so it "
    "IS meta-learned":
        "log_lr 被交给了外循环优化器，并通过适应后的权重得到元梯度，所以它确实是元学习得到的",
    "that is the claim under test. A re-draws a batch from the same p(T) at every iteration; no task "
    "arrives over time. Name A after what it meta-learns":
        "这正是要检验的说法。A 在每次迭代都从同一个 p(T) 重新抽取一个批次；"
        "没有任务是随时间到来的。请根据 A 元学习的对象来给它命名",
    "multi-task learning trains one shared model on a fixed set of tasks, with no per-task adaptation; A "
    "adapts to every task with a gradient step":
        "多任务学习在一组固定的任务上训练一个共享模型，没有针对每个任务的适应；A "
        "用一个梯度步来适应每个任务",
    "a model-based (black-box) learner adapts inside a network's forward pass; A adapts with an explicit "
    "gradient step θ − exp(log_lr)·∇L":
        "基于模型的（黑盒）学习者在网络的前向传播中完成适应；A 用一个显式的梯度步 θ − "
        "exp(log_lr)·∇L 来适应",
    "one of the loops reveals its tasks one at a time, is scored on each when it arrives, and updates "
    "the meta-parameters from the tasks seen so far":
        "其中一个循环一次揭示一个任务，在每个任务到来时就对它评分，并根据目前为止见过的任务更新元参数",
    "for each snippet ask where the tasks come from (re-drawn from p(T), or revealed one after another) "
    "and which tensors the outer optimizer updates":
        "对每段代码，问一问任务从哪里来（从 p(T) 重新抽取，还是一个接一个地揭示），"
        "以及外循环优化器更新了哪些张量",
    "{question!r}: {why}": "{question!r}：{why}",
    "{given!r} is not one of {choices}": "{given!r} 不在可选项 {choices} 之中",
    "a learned step size is a learned optimizer (Meta-SGD learns one per entry); 'online' is about tasks "
    "arriving in a stream (Finn et al. 2019, FTML), and an online meta-learner may or may not learn its "
    "step size":
        "学习得到的步长就是一种学习型优化器（Meta-SGD 为每个元素学习一个步长）；"
        "“在线”指的是任务以数据流的形式陆续到来（Finn et al. 2019，FTML），"
        "而在线元学习器可能学习也可能不学习它的步长",
}
