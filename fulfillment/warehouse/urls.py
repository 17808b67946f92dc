"""The warehouse pages, mounted under /warehouse/ by fulfillment.urls."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from fulfillment.warehouse import return_views, views

app_name = "warehouse"

urlpatterns = [
    path("", views.task_list, name="tasks"),
    path("login/", views.WorkerLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("warehouse:login")), name="logout"),
    path("tasks/<int:task_id>/", views.task_detail, name="task"),
    path("tasks/<int:task_id>/claim/", views.task_claim, name="claim"),
    path("tasks/<int:task_id>/confirm/", views.task_confirm, name="confirm"),
    path("tasks/<int:task_id>/release/", views.task_release, name="release"),
    path("tasks/<int:task_id>/problem/", views.task_problem, name="problem"),
    path("tasks/<int:task_id>/label/", views.task_label, name="label"),
    path("returns/<uuid:return_id>/", return_views.inspection, name="inspection"),
    path("returns/scan/", return_views.parcel_scan, name="parcel_scan"),
]
