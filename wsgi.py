from wallet import create_app

app = create_app()
