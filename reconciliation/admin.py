"""Admin: the reconciliation console. Upload a settlement file, read runs, set merchants'
policies, and work the review queue of discrepancies (approve the proposed action, choose
another, or dismiss with a note). Every button calls a service; nothing here decides.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from common.errors import DomainError
from payments.providers import provider_names
from reconciliation.models import (
    Action,
    ActionKind,
    Discrepancy,
    ReconciliationPolicy,
    Run,
    SettlementFile,
)
from reconciliation.parsing import SettlementFileError
from reconciliation.services.actions import discrepancy_resolve
from reconciliation.services.runs import reconciliation_run


@admin.register(ReconciliationPolicy)
class ReconciliationPolicyAdmin(admin.ModelAdmin):
    list_display = ("merchant", "provider_settled_ours_not", "ours_success_provider_not", "updated_at")
    list_select_related = ("merchant",)
    search_fields = ("merchant__name", "merchant__email")
    autocomplete_fields = ("merchant",)


class SettlementUploadForm(forms.Form):
    provider = forms.ChoiceField(choices=())
    period_start = forms.DateTimeField(help_text="inclusive, UTC (YYYY-MM-DD HH:MM)")
    period_end = forms.DateTimeField(help_text="exclusive, UTC")
    file = forms.FileField(help_text="CSV: " + "provider_reference,payment_id,order_id,amount,…")
    dry_run = forms.BooleanField(required=False, help_text="classify and report only; change nothing")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(name, name) for name in provider_names()]


@admin.register(SettlementFile)
class SettlementFileAdmin(admin.ModelAdmin):
    list_display = ("id", "provider", "filename", "period_start", "period_end", "line_count", "source", "imported_at")
    list_filter = ("provider", "source")
    search_fields = ("checksum", "filename")
    readonly_fields = [f.name for f in SettlementFile._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """The upload form: runs the file through the same service as Beat and the command."""
        form = SettlementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                outcome = reconciliation_run(
                    provider=data["provider"],
                    # Form datetimes are aware already (USE_TZ, TIME_ZONE = UTC).
                    period_start=data["period_start"],
                    period_end=data["period_end"],
                    content=data["file"].read(),
                    filename=data["file"].name,
                    source=SettlementFile.Source.ADMIN,
                    dry_run=data["dry_run"],
                )
            except SettlementFileError as exc:
                form.add_error("file", f"Rejected, nothing changed: {exc.message}")
            except DomainError as exc:
                form.add_error(None, exc.description)
            else:
                summary = ", ".join(f"{k} {v}" for k, v in sorted(outcome.counts.items())) or "no items"
                if outcome.dry_run:
                    self.message_user(request, f"Dry run, nothing stored: {summary}")
                    return HttpResponseRedirect(request.path)
                if outcome.already_imported:
                    self.message_user(
                        request,
                        f"This file was already imported as run {outcome.run.id}; nothing changed",
                        messages.WARNING,
                    )
                else:
                    self.message_user(request, f"Run {outcome.run.id}: {summary}")
                return HttpResponseRedirect(reverse("admin:reconciliation_run_change", args=[quote(outcome.run.id)]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a settlement file",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/reconciliation/upload.html", context)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "provider",
        "period_start",
        "period_end",
        "status",
        "counts_summary",
        "new_discrepancies",
        "actions_applied",
        "created_at",
    )
    list_filter = ("provider", "status")
    search_fields = ("id",)
    readonly_fields = [f.name for f in Run._meta.fields] + ["discrepancy_link"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="counts")
    def counts_summary(self, obj: Run) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(obj.counts.items()))

    @admin.display(description="discrepancies")
    def discrepancy_link(self, obj: Run) -> str:
        url = reverse("admin:reconciliation_discrepancy_changelist") + f"?run__id__exact={obj.id}"
        return format_html('<a href="{}">first found by this run</a>', url)


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BUCKETS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1h", "under an hour"), ("24h", "under a day"), ("7d", "under a week"), ("older", "a week or more")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        now = timezone.now()
        if value in self.BUCKETS:
            return queryset.filter(created_at__gte=now - self.BUCKETS[value])
        if value == "older":
            return queryset.filter(created_at__lt=now - timedelta(days=7))
        return queryset


class ResolveForm(forms.Form):
    # Not named "action": the admin posts its own "action" (the action's name).
    resolution = forms.ChoiceField(
        choices=[
            (ActionKind.ACCEPT, "accept: record the charge (success, or duplicate refunded automatically)"),
            (ActionKind.REFUND, "refund: record the charge, then refund in full"),
            (ActionKind.MARK_FAILED, "mark the payment failed"),
        ]
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class DismissForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="why nothing needs to be done")


class ActionInline(admin.TabularInline):
    model = Action
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "status", "actor", "user", "refund", "detail")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Discrepancy)
class DiscrepancyAdmin(admin.ModelAdmin):
    """The review queue."""

    list_display = (
        "id",
        "klass",
        "status",
        "merchant",
        "payment_id",
        "ours",
        "provider_says",
        "proposed_action",
        "age",
        "last_seen_at",
    )
    list_filter = ("status", "klass", ("merchant", admin.RelatedOnlyFieldListFilter), AgeFilter, "provider")
    search_fields = ("id", "payment__id", "provider_reference")
    list_select_related = ("merchant",)
    readonly_fields = [f.name for f in Discrepancy._meta.fields]
    inlines = [ActionInline]
    actions = ["approve_proposed", "choose_action", "dismiss"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Discrepancy) -> str:
        return timesince(obj.created_at)

    @admin.display(description="ours")
    def ours(self, obj: Discrepancy) -> str:
        return " ".join(str(v) for v in (obj.our_status, obj.our_amount, obj.our_currency) if v not in ("", None))

    @admin.display(description="provider")
    def provider_says(self, obj: Discrepancy) -> str:
        return " ".join(
            str(v) for v in (obj.provider_status, obj.provider_amount, obj.provider_currency) if v not in ("", None)
        )

    def _resolve_all(self, request: HttpRequest, queryset: QuerySet, kind: str | None, note: str) -> None:
        done = 0
        for discrepancy in queryset.order_by("id"):
            try:
                result = discrepancy_resolve(discrepancy_id=discrepancy.id, kind=kind, user=request.user, note=note)
            except DomainError as exc:
                self.message_user(request, f"{discrepancy.id}: {exc.description}", messages.ERROR)
                continue
            if result.status == Discrepancy.Status.OPEN:
                self.message_user(request, f"{discrepancy.id}: not applied: {result.note}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} discrepancies resolved")

    @admin.action(description="Approve the proposed action")
    def approve_proposed(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._resolve_all(request, queryset, None, "approved as proposed")

    @admin.action(description="Choose another action…")
    def choose_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._with_form(request, queryset, ResolveForm, "choose_action", "Choose an action")

    @admin.action(description="Dismiss with a note…")
    def dismiss(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._with_form(request, queryset, DismissForm, "dismiss", "Dismiss discrepancies")

    def _with_form(
        self, request: HttpRequest, queryset: QuerySet, form_class: type[forms.Form], action: str, title: str
    ) -> HttpResponse | None:
        """Django admin's intermediate page: show the form, apply on its second POST."""
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                kind = form.cleaned_data.get("resolution", ActionKind.NONE)
                self._resolve_all(request, queryset, kind, form.cleaned_data["note"])
                return None
        else:
            form = form_class()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "queryset": queryset,
            "action": action,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/reconciliation/resolve.html", context)


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    """The audit trail: read-only."""

    list_display = (
        "created_at",
        "kind",
        "status",
        "actor",
        "user",
        "payment_id",
        "discrepancy_id",
        "refund_id",
        "run_id",
    )
    list_filter = ("kind", "status", "actor")
    search_fields = ("payment__id", "discrepancy__id")
    readonly_fields = [f.name for f in Action._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
