package dev.attention4j.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The report's PNG plots: rate against N (or KV length) per engine, one per workload and pass. */
final class Charts {

  private static final Color[] COLORS = {new Color(0xD62728), new Color(0x1F77B4),
      new Color(0x2CA02C), new Color(0xFF7F0E), new Color(0x9467BD)};

  private Charts() {}

  /** Writes {@code <workload>-t<threads>.png} into {@code dir}; returns the file names. */
  static List<String> write(Path dir, Supplier<List<Report.Workload>> workloads,
      List<Report.Row> rows, List<Integer> threadCounts) throws IOException {
    List<String> names = new ArrayList<>();
    for (int threads : threadCounts) {
      for (Report.Workload w : workloads.get()) {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        for (Report.Row r : rows) {
          if (r.threads() != threads || !r.c().workload().equals(w.id()) || !r.ok()) {
            continue;
          }
          series.computeIfAbsent(r.c().engine(), XYSeries::new).add(r.c().x(), r.rate());
        }
        if (series.isEmpty()) {
          continue;
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart(w.title() + ", " + threads
                + (threads == 1 ? " thread" : " threads"), w.xName(), w.unit(), data,
            PlotOrientation.VERTICAL, true, false, false);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(true);
        NumberAxis x = (NumberAxis) plot.getDomainAxis();
        x.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        x.setAutoRangeMinimumSize(Math.max(1, data.getDomainUpperBound(false)));
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < data.getSeriesCount(); i++) {
          renderer.setSeriesPaint(i, COLORS[i % COLORS.length]);
          renderer.setSeriesStroke(i, new BasicStroke(2f));
        }
        plot.setRenderer(renderer);
        String name = w.id() + "-t" + threads + ".png";
        ChartUtils.saveChartAsPNG(dir.resolve(name).toFile(), chart, 800, 480);
        names.add(name);
      }
    }
    return names;
  }
}
