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
 * log perplexity (running mean NLL over a trailing window) against tokens, and a per-segment table. Series may
 * cover different prefixes of the text, or a sample of its predictions (NaN elsewhere), when a mode costs too much
 * to score everywhere: the CSV leaves those cells empty, the table shows "-" for segments a series does not reach,
 * and a last row compares every series on the predictions all of them scored.
 */
public final class PerplexityReport {

    private final Map<String, double[]> nll = new LinkedHashMap<>();
    private final String title;

    public PerplexityReport(String title) {
        this.title = title;
    }

    /** One series: a mode's label, or a label naming the cache geometry when several are compared. */
    public void add(String label, double[] tokenNll) {
        nll.put(label, tokenNll);
    }

    /** {@code nll.csv} (token, one column per mode) and {@code perplexity.png}. */
    public void write(Path dir, int smoothing) throws IOException {
        Files.createDirectories(dir);
        int n = longest();
        try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(dir.resolve("nll.csv")))) {
            csv.print("token");
            nll.keySet().forEach(label -> csv.print("," + label));
            csv.println();
            for (int i = 0; i < n; i++) {
                csv.print(i + 1);
                for (double[] values : nll.values()) {
                    csv.print(i < values.length && !Double.isNaN(values[i]) ? String.format(",%.6f", values[i]) : ",");
                }
                csv.println();
            }
        }
        XYSeriesCollection data = new XYSeriesCollection();
        for (Map.Entry<String, double[]> entry : nll.entrySet()) {
            XYSeries series = new XYSeries(entry.getKey());
            double[] values = entry.getValue();
            double sum = 0;
            int count = 0;
            for (int i = 0; i < values.length; i++) {
                if (!Double.isNaN(values[i])) {
                    sum += values[i];
                    count++;
                }
                if (i >= smoothing && !Double.isNaN(values[i - smoothing])) {
                    sum -= values[i - smoothing];
                    count--;
                }
                if ((i + 1) % Math.max(1, n / 2000) == 0 && count > 0) {
                    series.add(i + 1, sum / count);
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
        Color[] colors = {new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c), Color.BLACK, new Color(0x9467bd),
                new Color(0xff7f0e), new Color(0x8c564b)};
        for (int s = 0; s < data.getSeriesCount(); s++) {
            renderer.setSeriesStroke(s, new BasicStroke(1.5f));
            renderer.setSeriesPaint(s, colors[s % colors.length]);
        }
        plot.setRenderer(renderer);
        ChartUtils.saveChartAsPNG(dir.resolve("perplexity.png").toFile(), chart, 1000, 560);
    }

    /** Perplexity per segment of {@code segment} tokens, one column per series, then each whole series. */
    public void printTable(PrintStream out, int segment) {
        int n = longest();
        int width = 2 + nll.keySet().stream().mapToInt(String::length).max().orElse(0);
        String text = "%" + Math.max(12, width) + "s";
        String number = "%" + Math.max(12, width) + ".3f";
        out.printf("%-16s", "tokens");
        nll.keySet().forEach(label -> out.printf(text, label));
        out.println();
        for (int start = 0; start < n; start += segment) {
            int end = Math.min(n, start + segment);
            out.printf("%-16s", (start + 1) + "-" + end);
            for (double[] values : nll.values()) {
                out.print(end <= values.length ? String.format(number, perplexity(values, start, end)) : String.format(text, "-"));
            }
            out.println();
        }
        out.printf("%-16s", "all");
        for (double[] values : nll.values()) {
            out.printf(number, perplexity(values, 0, values.length));
        }
        out.println();
        boolean[] common = common();
        int shared = 0;
        for (boolean c : common) {
            shared += c ? 1 : 0;
        }
        if (shared < n) {
            out.printf("%-16s", "same " + shared);
            for (double[] values : nll.values()) {
                double sum = 0;
                for (int i = 0; i < common.length; i++) {
                    sum += common[i] ? values[i] : 0;
                }
                out.printf(number, Math.exp(sum / shared));
            }
            out.println();
        }
    }

    /** The predictions every series scored. */
    private boolean[] common() {
        boolean[] common = new boolean[nll.values().stream().mapToInt(v -> v.length).min().orElse(0)];
        for (int i = 0; i < common.length; i++) {
            int at = i;
            common[i] = nll.values().stream().noneMatch(v -> Double.isNaN(v[at]));
        }
        return common;
    }

    private int longest() {
        return nll.values().stream().mapToInt(v -> v.length).max().orElse(0);
    }

    /** exp of the mean NLL over {@code [from, to)}, skipping predictions that were not scored (NaN). */
    public static double perplexity(double[] nll, int from, int to) {
        double sum = 0;
        int count = 0;
        for (int i = from; i < to; i++) {
            if (!Double.isNaN(nll[i])) {
                sum += nll[i];
                count++;
            }
        }
        return Math.exp(sum / count);
    }
}
