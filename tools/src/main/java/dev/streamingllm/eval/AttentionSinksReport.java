package dev.streamingllm.eval;

import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.PaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.data.xy.DefaultXYZDataset;

/**
 * Writes {@link AttentionSinks} as the paper's Figure 2 reads: {@code attention.csv} (layer, key
 * position, average share), {@code attention.png} (a heat map of layers against key positions) and a
 * per-layer table of the share on the first token.
 */
public final class AttentionSinksReport {

    /** Shares below this are painted as this: the map shows four decades below certainty. */
    static final double FLOOR = 1e-4;

    private final AttentionSinks sinks;
    private final String title;
    private final String subtitle;

    public AttentionSinksReport(AttentionSinks sinks, String title, String subtitle) {
        this.sinks = sinks;
        this.title = title;
        this.subtitle = subtitle;
    }

    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(dir.resolve("attention.csv")))) {
            csv.println("layer,key,share");
            for (int l = 0; l < sinks.layers(); l++) {
                for (int k = 0; k < sinks.keys(); k++) {
                    csv.printf("%d,%d,%.6g%n", l, k, sinks.share(l, k));
                }
            }
        }
        ChartUtils.saveChartAsPNG(dir.resolve("attention.png").toFile(), heatMap(), 1100, 720);
    }

    /** Key positions across, layers up, colour by the logarithm of the share: the sink is orders of magnitude above the rest. */
    private JFreeChart heatMap() {
        int cells = sinks.layers() * sinks.keys();
        double[][] xyz = new double[3][cells];
        for (int l = 0, c = 0; l < sinks.layers(); l++) {
            for (int k = 0; k < sinks.keys(); k++, c++) {
                xyz[0][c] = k;
                xyz[1][c] = l;
                xyz[2][c] = Math.log10(Math.max(FLOOR, sinks.share(l, k)));
            }
        }
        DefaultXYZDataset data = new DefaultXYZDataset();
        data.addSeries("share", xyz);

        NumberAxis keyAxis = new NumberAxis("key position");
        keyAxis.setRange(-0.5, sinks.keys() - 0.5);
        keyAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        NumberAxis layerAxis = new NumberAxis("layer");
        layerAxis.setRange(-0.5, sinks.layers() - 0.5);
        layerAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());

        Viridis scale = new Viridis(Math.log10(FLOOR), 0);
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);
        XYPlot plot = new XYPlot(data, keyAxis, layerAxis, renderer);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        plot.setAxisOffset(RectangleInsets.ZERO_INSETS);

        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 16), plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(new TextTitle(subtitle));
        NumberAxis shareAxis = new NumberAxis("average share of attention (log scale)");
        shareAxis.setRange(scale.lower(), scale.upper());
        shareAxis.setTickUnit(new NumberTickUnit(1, new PowerOfTen()));
        PaintScaleLegend legend = new PaintScaleLegend(scale, shareAxis);
        legend.setPosition(RectangleEdge.RIGHT);
        legend.setSubdivisionCount(200);
        legend.setStripWidth(16);
        legend.setMargin(new RectangleInsets(10, 10, 10, 10));
        legend.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(legend);
        return chart;
    }

    /** Per layer: the share on the first token, on the first four (the paper's sinks) and on the query itself. */
    public void printTable(PrintStream out) {
        out.printf("%-6s %12s %12s %12s%n", "layer", "token 0", "tokens 0-3", "most recent");
        double first = 0;
        double firstFour = 0;
        double recent = 0;
        for (int l = 0; l < sinks.layers(); l++) {
            double four = 0;
            for (int k = 0; k < Math.min(4, sinks.keys()); k++) {
                four += sinks.share(l, k);
            }
            out.printf("%-6d %12.4f %12.4f %12.4f%n", l, sinks.share(l, 0), four, sinks.recent(l));
            first += sinks.share(l, 0);
            firstFour += four;
            recent += sinks.recent(l);
        }
        int n = sinks.layers();
        out.printf("%-6s %12.4f %12.4f %12.4f%n", "mean", first / n, firstFour / n, recent / n);
    }

    /** Viridis from {@code lower} to {@code upper}, interpolated between five of its colours. */
    record Viridis(double lower, double upper) implements PaintScale {

        private static final Color[] STOPS = {
            new Color(0x440154), new Color(0x3b528b), new Color(0x21918c), new Color(0x5ec962), new Color(0xfde725)};

        @Override
        public double getLowerBound() {
            return lower;
        }

        @Override
        public double getUpperBound() {
            return upper;
        }

        @Override
        public Paint getPaint(double value) {
            double t = (value - lower) / (upper - lower);
            double x = Math.clamp(t, 0, 1) * (STOPS.length - 1);
            int i = Math.min((int) x, STOPS.length - 2);
            double f = x - i;
            Color a = STOPS[i];
            Color b = STOPS[i + 1];
            return new Color(
                    (int) Math.round(a.getRed() + f * (b.getRed() - a.getRed())),
                    (int) Math.round(a.getGreen() + f * (b.getGreen() - a.getGreen())),
                    (int) Math.round(a.getBlue() + f * (b.getBlue() - a.getBlue())));
        }
    }

    /** Labels a tick at {@code log10(share)} with the share itself: -2 reads 0.01. */
    private static final class PowerOfTen extends NumberFormat {

        @Override
        public StringBuffer format(double exponent, StringBuffer to, FieldPosition position) {
            return to.append(BigDecimal.ONE.scaleByPowerOfTen((int) Math.round(exponent)).toPlainString());
        }

        @Override
        public StringBuffer format(long exponent, StringBuffer to, FieldPosition position) {
            return format((double) exponent, to, position);
        }

        @Override
        public Number parse(String source, ParsePosition position) {
            throw new UnsupportedOperationException("tick labels are not parsed");
        }
    }
}
