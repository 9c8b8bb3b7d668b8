from setuptools import find_packages, setup

setup(
    name="ml-assets",
    version="0.1.0",
    description="An asset-based ML data platform on Dagster: contracts, gated training, MLflow registry, serving.",
    packages=find_packages(exclude=["ml_assets_tests", "ml_assets_tests.*", "bench"]),
    python_requires=">=3.11,<3.13",
    install_requires=[
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-graphql==1.13.27",
        "dagster-pandera==0.29.27",
        "pandas>=2.2,<3",
        "pandera>=0.35,<0.36",
        "scikit-learn>=1.9,<1.10",
        "mlflow>=3.17,<3.18",
        "pyarrow>=15",
        "tqdm>=4.66",
        "universal_pathlib>=0.2",
        # SQLAlchemy 2.1 makes psycopg 3 the default postgresql:// driver, which breaks
        # dagster-postgres (server-side binding in SET statements); 2.0 keeps psycopg2.
        "sqlalchemy>=2.0,<2.1",
    ],
    extras_require={
        "prod": [
            "dagster-postgres==0.29.27",
            "dagster-celery[redis]==0.29.27",
            "dagster-k8s==0.29.27",
            "psycopg2-binary>=2.9",
        ],
        "dev": [
            "dagster-postgres==0.29.27",
            "dagster-celery[redis]==0.29.27",
            "dagster-k8s==0.29.27",
            "psycopg2-binary>=2.9",
            "pytest>=8",
            "ruff>=0.6",
            "schemathesis>=4",
            "playwright>=1.50",
        ],
    },
    entry_points={"console_scripts": ["ml-assets=ml_assets.cli:main"]},
)
