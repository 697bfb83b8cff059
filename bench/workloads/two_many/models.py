from ontoc import DomainModel, attrs


class Project(DomainModel):
    class Meta:
        topic = "tm_projects"

    name: str
    budget: float


class Task(DomainModel):
    class Meta:
        topic = "tm_tasks"

    project: Project = attrs.ref()
    hours: float
    done: bool = False
    priority: int = 0


class Expense(DomainModel):
    class Meta:
        topic = "tm_expenses"

    project: Project = attrs.ref()
    amount: float
    category: str
    approved: bool = False
