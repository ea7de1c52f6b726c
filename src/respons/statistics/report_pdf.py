"""The report as a PDF to send to a municipality and file: title, key figures, a bar chart
(month by month for half years and years, hour of day otherwise), and what each figure means.
ReportLab draws it: no browser or system libraries needed on the server."""

from __future__ import annotations

import io

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


from respons.statistics.report_model import EXPLANATIONS, MONTHS_NB, Report, category_nb, key_rows


def render(report: Report) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=report.title, author="Respons", leftMargin=2 * cm,
                            rightMargin=2 * cm, topMargin=2 * cm, bottomMargin=2 * cm)
    styles = getSampleStyleSheet()
    story = [Paragraph(report.title, styles["Title"]),
             Paragraph(f"Kommunenummer {report.municipality_number}. Tall fra Respons, regnet fra alarmenes tidslinjer.",
                       styles["Normal"]), Spacer(1, 0.5 * cm)]
    table = Table([[name, value] for name, value in key_rows(report.figures)], colWidths=[7 * cm, 10 * cm])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story += [table, Spacer(1, 0.6 * cm)]
    story += _chart(report, styles)
    story += [Spacer(1, 0.4 * cm), Paragraph("Hva tallene betyr", styles["Heading2"])]
    for name, text in EXPLANATIONS:
        story.append(Paragraph(f"<b>{name}.</b> {text}", styles["Normal"]))
        story.append(Spacer(1, 0.15 * cm))
    story.append(Paragraph(f"Timer spart er beregnet med {report.minutes_per_cleared_alarm:.0f} minutter per utrykning "
                           "som responssenteret avklarte.", styles["Italic"]))
    doc.build(story)
    return out.getvalue()


def _chart(report: Report, styles) -> list:
    if report.months:
        labels = [MONTHS_NB[d.month - 1][:3] for d, _ in report.months]
        values = [k.received for _, k in report.months]
        heading = "Alarmer per måned"
    else:
        labels = [f"{h:02d}" for h in range(24)]
        values = [report.figures.by_hour.get(h, 0) for h in range(24)]
        heading = "Alarmer per time på døgnet"
    drawing = Drawing(17 * cm, 5.5 * cm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 1 * cm, 0.8 * cm, 15.5 * cm, 4.2 * cm
    chart.data = [values]
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#0b5cab")
    drawing.add(chart)
    return [Paragraph(heading, styles["Heading2"]), drawing]




def render_year(report) -> bytes:
    """The yearly report across the collaboration (``model.YearReport``)."""
    from respons.statistics.report_model import share

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=report.title, author="Respons", leftMargin=1.5 * cm,
                            rightMargin=1.5 * cm, topMargin=2 * cm, bottomMargin=2 * cm)
    styles = getSampleStyleSheet()
    header = ["Kommune", "Alarmer", "Innen 60 s", "Avklart", "Direkterutet", "Eskalert", "Timer spart"]

    def line(name, k):
        return [name, str(k.received), share(k.share_answered_within_target), share(k.clearance_rate),
                str(k.routed_direct), str(k.escalated), f"{k.hours_saved:.0f}"]

    data = [header] + [line(f"{name} ({number})", k) for number, name, k in report.rows] + [line("Samlet", report.total)]
    table = Table(data, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 9), ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
    ]))
    d = report.deviations
    story = [Paragraph(report.title, styles["Title"]), table, Spacer(1, 0.6 * cm),
             Paragraph("Avvik", styles["Heading2"]),
             Paragraph(f"{d.total} avvik registrert ({d.proposed_by_system} foreslått av systemet og bekreftet eller under "
                       f"vurdering); {d.dismissed} forslag avvist.", styles["Normal"])]
    if d.by_category:
        story.append(Table([["Kategori", "Antall"]] + [[category_nb(c), str(n)] for c, n in sorted(d.by_category.items())],
                           style=TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9),
                                             ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold")])))
    story += [Spacer(1, 0.4 * cm), Paragraph("Hva tallene betyr", styles["Heading2"])]
    for name, text in EXPLANATIONS:
        story.append(Paragraph(f"<b>{name}.</b> {text}", styles["Normal"]))
    doc.build(story)
    return out.getvalue()
