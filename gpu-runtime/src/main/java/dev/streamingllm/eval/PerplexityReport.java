package dev.streamingllm.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Writes the language-modelling experiment like the paper's Figure 3: per-token NLL as CSV, a chart of
 * log perplexity (running mean NLL over a trailing window) against tokens, and a per-segment table.
 */
public final class PerplexityReport {

    private final Map<AttentionMode, double[]> nll = new LinkedHashMap<>();
    private final String title;

    public PerplexityReport(String title) {
        this.title = title;
    }

    public void add(AttentionMode mode, double[] tokenNll) {
        nll.put(mode, tokenNll);
    }

    /** {@code nll.csv} (token, one column per mode) and {@code perplexity.png}. */
    public void write(Path dir, int smoothing) throws IOException {
        Files.createDirectories(dir);
        int n = nll.values().iterator().next().length;
        try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(dir.resolve("nll.csv")))) {
            csv.print("token");
            nll.keySet().forEach(mode -> csv.print("," + mode.label()));
            csv.println();
            for (int i = 0; i < n; i++) {
                csv.print(i + 1);
                for (double[] values : nll.values()) {
                    csv.printf(",%.6f", values[i]);
                }
                csv.println();
            }
        }
        XYSeriesCollection data = new XYSeriesCollection();
        for (Map.Entry<AttentionMode, double[]> entry : nll.entrySet()) {
            XYSeries series = new XYSeries(entry.getKey().label());
            double[] values = entry.getValue();
            double sum = 0;
            for (int i = 0; i < values.length; i++) {
                sum += values[i];
                if (i >= smoothing) {
                    sum -= values[i - smoothing];
                }
                if ((i + 1) % Math.max(1, values.length / 2000) == 0) {
                    series.add(i + 1, sum / Math.min(i + 1, smoothing));
                }
            }
            data.addSeries(series);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "input length (tokens)",
                "log perplexity (mean NLL over the last " + smoothing + " tokens)", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        Color[] colors = {new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c), Color.BLACK};
        for (int s = 0; s < data.getSeriesCount(); s++) {
            renderer.setSeriesStroke(s, new BasicStroke(1.5f));
            renderer.setSeriesPaint(s, colors[s % colors.length]);
        }
        plot.setRenderer(renderer);
        ChartUtils.saveChartAsPNG(dir.resolve("perplexity.png").toFile(), chart, 1000, 560);
    }

    /** Perplexity per segment of {@code segment} tokens, one column per mode, then the whole stream. */
    public void printTable(PrintStream out, int segment) {
        int n = nll.values().iterator().next().length;
        out.printf("%-16s", "tokens");
        nll.keySet().forEach(mode -> out.printf("%12s", mode.label()));
        out.println();
        for (int start = 0; start < n; start += segment) {
            int end = Math.min(n, start + segment);
            out.printf("%-16s", (start + 1) + "-" + end);
            for (double[] values : nll.values()) {
                out.printf("%12.3f", perplexity(values, start, end));
            }
            out.println();
        }
        out.printf("%-16s", "all");
        for (double[] values : nll.values()) {
            out.printf("%12.3f", perplexity(values, 0, n));
        }
        out.println();
    }

    public static double perplexity(double[] nll, int from, int to) {
        double sum = 0;
        for (int i = from; i < to; i++) {
            sum += nll[i];
        }
        return Math.exp(sum / (to - from));
    }
}
