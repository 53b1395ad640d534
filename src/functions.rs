//! SQL functions connect-lake adds to DataFusion: Spark's `unix_micros` and `unix_millis`,
//! so that the report views of `sql/` are written once and run unchanged in both engines
//! (`ddl --engine spark` prints them for Spark).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};

/// Registers every function of this module in `ctx`.
pub fn register(ctx: &SessionContext) {
    for (name, per) in [("unix_micros", 1), ("unix_millis", 1000)] {
        ctx.register_udf(create_udf(
            name,
            vec![DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into()),
            )],
            DataType::Int64,
            Volatility::Immutable,
            Arc::new(move |args: &[ColumnarValue]| since_epoch(args, per)),
        ));
    }
}

/// Microseconds since the epoch divided by `per`, rounded down as Spark does (`floorDiv`).
fn since_epoch(args: &[ColumnarValue], per: i64) -> DfResult<ColumnarValue> {
    let convert = |values: &ArrayRef| -> DfResult<ArrayRef> {
        let micros = cast(values, &DataType::Int64)?;
        let micros = micros.as_primitive::<Int64Type>();
        let out: Int64Array = micros.unary(|v| v.div_euclid(per));
        Ok(Arc::new(out))
    };
    match args {
        [ColumnarValue::Array(values)] => Ok(ColumnarValue::Array(convert(values)?)),
        [ColumnarValue::Scalar(value)] => {
            let out = convert(&value.to_array()?)?;
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        }
        _ => Err(datafusion::error::DataFusionError::Plan(
            "takes one timestamp".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[tokio::test]
    async fn microseconds_and_milliseconds_round_down_like_spark() {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx
            .sql(
                "SELECT unix_micros(TIMESTAMP '2026-11-24T10:00:00.123456Z'), \
                        unix_millis(TIMESTAMP '2026-11-24T10:00:00.123999Z'), \
                        unix_millis(TIMESTAMP '1969-12-31T23:59:59.999500Z'), \
                        unix_micros(CAST(NULL AS TIMESTAMP))",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let row: Vec<Option<i64>> = batches[0]
            .columns()
            .iter()
            .map(|c| {
                let c = c.as_primitive::<Int64Type>();
                (!c.is_null(0)).then(|| c.value(0))
            })
            .collect();
        assert_eq!(
            row,
            vec![
                Some(1_795_514_400_123_456),
                Some(1_795_514_400_123),
                Some(-1),
                None
            ]
        );
    }
}
