from ontoc import Store, ViewModel, attrs, many, one

from .models import Expense, Project, Task


class ProjectStore(Store):
    project = one(Project)
    tasks = many(Task, on="project")
    expenses = many(Expense, on="project")


class ProjectStats(ViewModel):
    class Meta:
        topic = "tm_project_stats"
        store = ProjectStore

    @attrs.getter
    def name(self) -> str:
        return self.store.project.name

    @attrs.getter
    def task_count(self) -> int:
        return len(self.store.tasks)

    @attrs.getter
    def open_tasks(self) -> int:
        return len([t for t in self.store.tasks if not t.done])

    @attrs.getter
    def hours(self) -> float:
        return sum(t.hours for t in self.store.tasks)

    @attrs.getter
    def top_priority(self) -> int:
        return max((t.priority for t in self.store.tasks), default=0)

    @attrs.getter
    def expense_count(self) -> int:
        return len(self.store.expenses)

    @attrs.getter
    def spent(self) -> float:
        return sum(e.amount for e in self.store.expenses if e.approved)

    @attrs.getter
    def largest_expense(self) -> float | None:
        return max((e.amount for e in self.store.expenses), default=None)

    @attrs.getter
    def categories(self) -> int:
        return len({e.category for e in self.store.expenses})

    @attrs.getter
    def over_budget(self) -> bool:
        return self.spent > self.store.project.budget
